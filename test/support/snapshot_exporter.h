#pragma once

// An exporter of arbitrary series for a real Prometheus to scrape: any metric
// name (vLLM's `vllm:` names hold a colon), any labels, gauges, counters and
// histograms with the buckets the test gives (an engine's real boundaries).
// Unlike TestExporter's prometheus-cpp metrics, a batch of changes is seen by
// a scrape whole or not at all: a counter pair (a duration and a request
// count) or a histogram's buckets never arrive half-updated, so a mean or a
// quantile from their rates is exact, not off by one update. Served by
// prometheus-cpp's pull library on 127.0.0.1:0; scrape it with
// `honor_labels: true` (PrometheusServer does) so namespace/pod stay as set.
// Link prometheus-cpp::pull.

#include <prometheus/collectable.h>
#include <prometheus/exposer.h>
#include <prometheus/metric_family.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace kubeai::testing {

class SnapshotExporter {
 public:
  using Labels = std::map<std::string, std::string>;

  // The changes of one batch; only valid inside batch().
  class Batch {
   public:
    void gauge(const std::string& name, const Labels& labels, double value) {
      series(name, prometheus::MetricType::Gauge, labels).value = value;
    }
    void counter(const std::string& name, const Labels& labels, double delta) {
      series(name, prometheus::MetricType::Counter, labels).value += delta;
    }
    // Records `count` observations of `value` in the histogram `name` with
    // the upper bounds `buckets` (ascending, +Inf implied).
    void observe(const std::string& name, const Labels& labels, const std::vector<double>& buckets, double value,
                 std::uint64_t count = 1) {
      Series& s = series(name, prometheus::MetricType::Histogram, labels);
      if (s.bounds.empty()) {
        s.bounds = buckets;
        s.bounds.push_back(std::numeric_limits<double>::infinity());
        s.counts.assign(s.bounds.size(), 0);
      } else if (s.bounds.size() != buckets.size() + 1) {
        throw std::logic_error("snapshot exporter: " + name + " observed with other buckets");
      }
      const auto bucket = std::lower_bound(s.bounds.begin(), s.bounds.end(), value) - s.bounds.begin();
      s.counts[static_cast<std::size_t>(bucket)] += count;
      s.sum += value * static_cast<double>(count);
      s.total += count;
    }

   private:
    friend class SnapshotExporter;
    struct Series {
      double value = 0;  // gauge, counter
      std::vector<double> bounds;  // histogram: upper bounds, +Inf last
      std::vector<std::uint64_t> counts;  // per bucket, not cumulative
      double sum = 0;
      std::uint64_t total = 0;
    };
    struct Family {
      prometheus::MetricType type = prometheus::MetricType::Untyped;
      std::map<Labels, Series> series;
    };
    explicit Batch(std::map<std::string, Family>& families) : families_(families) {}

    Series& series(const std::string& name, prometheus::MetricType type, const Labels& labels) {
      Family& family = families_[name];
      if (family.series.empty()) {
        family.type = type;
      } else if (family.type != type) {
        throw std::logic_error("snapshot exporter: " + name + " used as two metric types");
      }
      return family.series[labels];
    }

    std::map<std::string, Family>& families_;
  };

  SnapshotExporter()
      : state_(std::make_shared<State>()), exposer_(std::make_unique<prometheus::Exposer>("127.0.0.1:0", 2)) {
    exposer_->RegisterCollectable(state_);
    const auto ports = exposer_->GetListeningPorts();
    if (ports.empty() || ports.front() == 0) {
      throw std::runtime_error("snapshot exporter: no listening port");
    }
    port_ = ports.front();
  }

  SnapshotExporter(const SnapshotExporter&) = delete;
  SnapshotExporter& operator=(const SnapshotExporter&) = delete;

  // host:port, for a scrape config's targets.
  [[nodiscard]] std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

  // Runs `change(Batch&)` under the lock a scrape takes: all of it or none.
  template <typename Change>
  void batch(Change&& change) {
    std::lock_guard<std::mutex> lock(state_->mutex);
    Batch batch(state_->families);
    std::forward<Change>(change)(batch);
  }

 private:
  struct State : prometheus::Collectable {
    std::vector<prometheus::MetricFamily> Collect() const override {
      std::lock_guard<std::mutex> lock(mutex);
      std::vector<prometheus::MetricFamily> out;
      for (const auto& [name, family] : families) {
        prometheus::MetricFamily metricFamily;
        metricFamily.name = name;
        metricFamily.help = "test series";
        metricFamily.type = family.type;
        for (const auto& [labels, series] : family.series) {
          prometheus::ClientMetric metric;
          for (const auto& [label, value] : labels) {
            metric.label.push_back({label, value});
          }
          switch (family.type) {
            case prometheus::MetricType::Counter:
              metric.counter.value = series.value;
              break;
            case prometheus::MetricType::Histogram: {
              std::uint64_t cumulative = 0;
              for (std::size_t i = 0; i < series.bounds.size(); ++i) {
                cumulative += series.counts[i];
                metric.histogram.bucket.push_back({cumulative, series.bounds[i]});
              }
              metric.histogram.sample_count = series.total;
              metric.histogram.sample_sum = series.sum;
              break;
            }
            default:
              metric.gauge.value = series.value;
              break;
          }
          metricFamily.metric.push_back(std::move(metric));
        }
        out.push_back(std::move(metricFamily));
      }
      return out;
    }

    mutable std::mutex mutex;
    std::map<std::string, Batch::Family> families;
  };

  std::shared_ptr<State> state_;
  std::unique_ptr<prometheus::Exposer> exposer_;
  int port_ = 0;
};

}  // namespace kubeai::testing
