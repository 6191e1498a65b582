#include "source/prometheus/prometheus_metric_source.h"

#include <spdlog/spdlog.h>

#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <unordered_map>
#include <utility>

#include "source/prometheus/query_result.h"

namespace kubeai::source::prometheus {
namespace {

// The queries of one reading, in the order their errors are reported: the
// seed four, the replicas, the ready replicas, then spec.metrics.custom[i] at
// kFirstCustom + i.
enum Slot : std::size_t {
  kLatencyP99,
  kLatencyP95,
  kGpuUtilization,
  kRequestQueueDepth,
  kReplicas,
  kReadyReplicas,
  kFirstCustom,
  kSlots = kFirstCustom + core::kMaxCustomMetrics
};

constexpr std::array<const char*, kFirstCustom> kSlotNames = {
    "latencyP99", "latencyP95", "gpuUtilization", "requestQueueDepth", "replicas", "readyReplicas"};

std::string_view slotName(std::size_t slot, const core::MetricsSpec& metrics) {
  return slot < kFirstCustom ? std::string_view(kSlotNames[slot])
                             : std::string_view(metrics.custom[slot - kFirstCustom].name);
}

// A warning text repeated with ever-changing details must not grow memory
// without bound: past this many, forget them all (some are logged again).
constexpr std::size_t kMaxRememberedWarnings = 1024;

constexpr double kMillisecondsPerSecond = 1000.0;

using Value = core::Result<QueryValue>;

// The distinct (expression, tenant) pairs of a cycle, each with its index in
// the request: one HTTP query for each, however many policies share it.
class ExpressionSet {
 public:
  std::size_t add(std::string expression, std::string_view tenant) {
    // A namespace holds no NUL: the key is unambiguous.
    std::string key(tenant);
    key += '\0';
    key += expression;
    const auto [it, inserted] = index_.try_emplace(std::move(key), expressions_.size());
    if (inserted) {
      expressions_.push_back(std::move(expression));
      tenants_.emplace_back(tenant);
    }
    return it->second;
  }
  [[nodiscard]] const std::vector<std::string>& expressions() const { return expressions_; }
  [[nodiscard]] const std::vector<std::string>& tenants() const { return tenants_; }

 private:
  std::unordered_map<std::string, std::size_t> index_;
  std::vector<std::string> expressions_;
  std::vector<std::string> tenants_;  // "" without --prometheus-tenant-from-namespace
};

struct Plan {
  std::optional<core::Error> error;  // the templates did not expand
  std::array<std::optional<std::size_t>, kSlots> query;  // index into the expressions
  std::array<bool, kSlots> emptyIsZero{};  // the metric's treatEmptyAsZero
};

// Which slots read an empty result as 0 (never the replicas nor the ready
// replicas: a target that kube-state-metrics does not know is no data, not a
// workload at 0).
std::array<bool, kSlots> emptyIsZero(const core::MetricsSpec& metrics) {
  std::array<bool, kSlots> out{};
  if (metrics.latency) {
    out[kLatencyP99] = out[kLatencyP95] = metrics.latency->treatEmptyAsZero;
  }
  if (metrics.gpuUtilization) {
    out[kGpuUtilization] = metrics.gpuUtilization->treatEmptyAsZero;
  }
  if (metrics.requestQueueDepth) {
    out[kRequestQueueDepth] = metrics.requestQueueDepth->treatEmptyAsZero;
  }
  for (std::size_t i = 0; i < metrics.custom.size() && i < core::kMaxCustomMetrics; ++i) {
    out[kFirstCustom + i] = metrics.custom[i].treatEmptyAsZero;
  }
  return out;
}

void appendError(std::string& errors, std::string_view slot, const std::string& message) {
  if (!errors.empty()) {
    errors += "; ";
  }
  errors += slot;
  errors += ": ";
  errors += message;
}

// A replica count from a query: kube-state-metrics' gauges are whole numbers;
// a sum of averages may not be, so the nearest one is taken.
core::Result<std::optional<std::int32_t>> replicaCount(std::optional<double> value, const std::string& query) {
  if (!value) {
    return std::optional<std::int32_t>{};
  }
  if (*value < 0.0 || *value > static_cast<double>(std::numeric_limits<std::int32_t>::max())) {
    std::string message = "query `";
    message += query;
    message += "` returned ";
    message += std::to_string(*value);
    message += ", which is not a replica count";
    return core::Error{std::move(message)};
  }
  return std::optional<std::int32_t>{static_cast<std::int32_t>(std::llround(*value))};
}

}  // namespace

PrometheusMetricSource::PrometheusMetricSource(QueryTransport& transport, PrometheusSourceOptions options)
    : transport_(transport), options_(std::move(options)) {}

core::Status PrometheusMetricSource::check(const core::Policy& policy) const {
  auto queries = policyQueries(policy, options_.queries);
  if (!queries.ok()) {
    return queries.error();
  }
  return core::Ok{};
}

std::vector<core::Result<MetricReading>> PrometheusMetricSource::readPolicies(const core::PolicyList& policies) {
  ExpressionSet set;
  std::vector<Plan> plans(policies.size());
  for (std::size_t i = 0; i < policies.size(); ++i) {
    auto queries = policyQueries(*policies[i], options_.queries);
    if (!queries.ok()) {
      plans[i].error = queries.error();
      continue;
    }
    PolicyQueries& q = queries.value();
    const std::string_view tenant =
        options_.tenantFromNamespace ? std::string_view(policies[i]->metadata.namespace_) : std::string_view();
    plans[i].emptyIsZero = emptyIsZero(policies[i]->spec.metrics);
    const std::array<std::optional<std::string>*, kFirstCustom> seedQueries = {
        &q.latencyP99, &q.latencyP95, &q.gpuUtilization, &q.requestQueueDepth, &q.replicas, &q.readyReplicas};
    for (std::size_t slot = 0; slot < kSlots; ++slot) {
      std::optional<std::string>& query = slot < kFirstCustom ? *seedQueries[slot] : q.custom[slot - kFirstCustom];
      if (query) {
        // The replicas and ready replicas are kube-state-metrics' series,
        // which live in the platform's tenant, not the policy's namespace's:
        // sent with no tenant header (--prometheus-header's still apply).
        const bool platformSeries = slot == kReplicas || slot == kReadyReplicas;
        plans[i].query[slot] = set.add(std::move(*query), platformSeries ? std::string_view() : tenant);
      }
    }
  }

  const std::vector<std::string>& expressions = set.expressions();
  std::vector<Value> values;
  values.reserve(expressions.size());
  if (!expressions.empty()) {
    std::vector<core::Result<HttpResponse>> responses = options_.tenantFromNamespace
                                                            ? transport_.tenantQueries(expressions, set.tenants())
                                                            : transport_.instantQueries(expressions);
    for (std::size_t e = 0; e < expressions.size(); ++e) {
      if (responses.size() != expressions.size()) {
        // A transport bug must not index out of bounds: every query failed.
        std::string message = "query `";
        message += expressions[e];
        message += "`: the HTTP client returned ";
        message += std::to_string(responses.size());
        message += " answers for ";
        message += std::to_string(expressions.size());
        message += " queries";
        values.emplace_back(core::Error{std::move(message)});
        continue;
      }
      if (!responses[e].ok()) {
        std::string context = "query `";
        context += expressions[e];
        context += "`";
        if (!set.tenants()[e].empty()) {
          context += " as tenant ";
          context += set.tenants()[e];
        }
        values.emplace_back(responses[e].error().withContext(context));
        continue;
      }
      auto read = readQueryResponse(responses[e].value(), expressions[e]);
      if (!read.ok()) {
        values.emplace_back(read.error());
        continue;
      }
      reportWarnings(expressions[e], read.value().warnings);
      values.emplace_back(std::move(read).value());
    }
  }

  std::vector<core::Result<MetricReading>> readings;
  readings.reserve(policies.size());
  for (std::size_t p = 0; p < plans.size(); ++p) {
    const Plan& plan = plans[p];
    if (plan.error) {
      readings.emplace_back(*plan.error);
      continue;
    }
    MetricReading reading;
    std::string errors;
    const std::array<std::optional<double>*, kRequestQueueDepth + 1> seedTargets = {
        &reading.latencyP99Ms, &reading.latencyP95Ms, &reading.gpuUtilizationPercent, &reading.requestQueueDepth};
    const core::MetricsSpec& metrics = policies[p]->spec.metrics;
    for (std::size_t slot = 0; slot < kSlots; ++slot) {
      if (!plan.query[slot]) {
        continue;
      }
      const std::size_t index = *plan.query[slot];
      const Value& value = values[index];
      if (!value.ok() && slot == kReadyReplicas) {
        // Ready replicas only sharpen a decision (start-up awareness): their
        // query failing leaves them unknown, and the policy decided, not stale.
        continue;
      }
      if (!value.ok()) {
        appendError(errors, slotName(slot, metrics), value.error().message);
        continue;
      }
      if (slot == kReplicas || slot == kReadyReplicas) {
        // An empty result stays nullopt: no replica data, or ready replicas unknown.
        auto replicas = replicaCount(value.value().value, expressions[index]);
        if (!replicas.ok() && slot == kReadyReplicas) {
          continue;  // unknown, as above
        }
        if (!replicas.ok()) {
          appendError(errors, slotName(slot, metrics), replicas.error().message);
        } else {
          (slot == kReplicas ? reading.currentReplicas : reading.readyReplicas) = replicas.value();
        }
        continue;
      }
      std::optional<double> metric = value.value().value;
      if (!metric && value.value().empty && plan.emptyIsZero[slot]) {
        metric = 0.0;  // a gauge that vanishes with its pods, or with the last waiting request
      }
      if (metric && (slot == kLatencyP99 || slot == kLatencyP95)) {
        *metric *= kMillisecondsPerSecond;  // the queries return seconds
      }
      if (slot < kFirstCustom) {
        *seedTargets[slot] = metric;
      } else {
        reading.custom[slot - kFirstCustom] = metric;
      }
    }
    if (errors.empty()) {
      readings.emplace_back(std::move(reading));
    } else {
      readings.emplace_back(core::Error{std::move(errors)});
    }
  }
  return readings;
}

void PrometheusMetricSource::reportWarnings(const std::string& query, const std::vector<std::string>& warnings) {
  for (const std::string& warning : warnings) {
    if (warned_.size() >= kMaxRememberedWarnings) {
      warned_.clear();
    }
    if (!warned_.insert(warning).second) {
      continue;
    }
    if (options_.onWarning) {
      options_.onWarning(query, warning);
    } else {
      spdlog::warn("Prometheus warning: {} (query `{}`)", warning, query);
    }
  }
}

}  // namespace kubeai::source::prometheus
