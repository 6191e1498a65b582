#include "source/prometheus/query_template.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <regex>
#include <string>

namespace kubeai::source::prometheus {
namespace {

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

core::Policy policy(const std::string& ns, const std::string& name, const std::string& target,
                    const std::string& kind = "Deployment") {
  core::Policy p;
  p.metadata.namespace_ = ns;
  p.metadata.name = name;
  p.spec.targetRef.kind = kind;
  p.spec.targetRef.name = target;
  p.spec.maxReplicas = 10;
  p.spec.metrics.latency = core::LatencyMetricSpec{true, 500.0, 300.0, ""};
  p.spec.metrics.gpuUtilization = core::GpuUtilizationMetricSpec{true, 80.0, ""};
  p.spec.metrics.requestQueueDepth = core::RequestQueueDepthMetricSpec{true, 4.0, ""};
  return p;
}

std::string expand(std::string_view tmpl, const TemplateValues& values) {
  auto expanded = expandTemplate(tmpl, values);
  REQUIRE_MESSAGE(expanded.ok(), (expanded.ok() ? "" : expanded.error().message));
  return expanded.value();
}

std::string expandError(std::string_view tmpl, const TemplateValues& values) {
  auto expanded = expandTemplate(tmpl, values);
  REQUIRE_MESSAGE(!expanded.ok(), (expanded.ok() ? expanded.value() : ""));
  return expanded.error().message;
}

// Kubernetes' safe alphabet, as the expanded regexes hold it.
constexpr const char* kSafe = "[bcdfghjklmnpqrstvwxz2456789]";

TEST_CASE("the default queries are scoped to the policy's namespace and its Deployment's pods") {
  auto queries = policyQueries(policy("llm", "chat-policy", "chat"), {});
  REQUIRE(queries.ok());
  const PolicyQueries& q = queries.value();
  // chat-<pod-template-hash>-<suffix>: never the pods of a Deployment chat-v2.
  const std::string pods = std::string("chat-") + kSafe + "{1,10}-" + kSafe + "{5}";
  CHECK(q.gpuUtilization == R"(avg(DCGM_FI_DEV_GPU_UTIL{namespace="llm",pod=~")" + pods + R"("}))");
  CHECK(q.latencyP99 == R"(histogram_quantile(0.99, sum by (le) (rate(inference_request_duration_seconds_bucket{namespace="llm",pod=~")" +
                            pods + R"("}[2m]))))");
  CHECK(q.latencyP95 == R"(histogram_quantile(0.95, sum by (le) (rate(inference_request_duration_seconds_bucket{namespace="llm",pod=~")" +
                            pods + R"("}[2m]))))");
  CHECK(q.requestQueueDepth == R"(sum(inference_request_queue_depth{namespace="llm",pod=~")" + pods + R"("}))");
  // Aggregated: two kube-state-metrics replicas export the same series.
  CHECK(q.replicas == R"(max(kube_deployment_spec_replicas{namespace="llm",deployment="chat"}))");
  // The ready replicas, matched the same way.
  CHECK(q.readyReplicas == R"(max(kube_deployment_status_replicas_ready{namespace="llm",deployment="chat"}))");
}

TEST_CASE("a StatefulSet's pods are selected by their ordinals") {
  auto queries = policyQueries(policy("llm", "p", "vllm", "StatefulSet"), {});
  REQUIRE(queries.ok());
  const PolicyQueries& q = queries.value();
  CHECK(q.gpuUtilization == R"(avg(DCGM_FI_DEV_GPU_UTIL{namespace="llm",pod=~"vllm-[0-9]+"}))");
  CHECK(q.latencyP99 ==
        R"(histogram_quantile(0.99, sum by (le) (rate(inference_request_duration_seconds_bucket{namespace="llm",pod=~"vllm-[0-9]+"}[2m]))))");
  CHECK(q.requestQueueDepth == R"(sum(inference_request_queue_depth{namespace="llm",pod=~"vllm-[0-9]+"}))");
  CHECK(q.replicas == R"(max(kube_statefulset_replicas{namespace="llm",statefulset="vllm"}))");
  CHECK(q.readyReplicas == R"(max(kube_statefulset_status_replicas_ready{namespace="llm",statefulset="vllm"}))");
}

TEST_CASE("the target's name is regex-escaped inside the pods' regex, the regex itself is not") {
  auto queries = policyQueries(policy("llm", "p", "llama-3.1"), {});
  REQUIRE(queries.ok());
  // \\. in PromQL is the regex \. (a literal dot); [, ], {, } and | stay regex.
  CHECK(queries.value().gpuUtilization == std::string(R"(avg(DCGM_FI_DEV_GPU_UTIL{namespace="llm",pod=~"llama-3\\.1-)") +
                                              kSafe + "{1,10}-" + kSafe + R"({5}"}))");
}

// A pod's name as Kubernetes makes it: the ReplicaSet <deployment>-<hash>,
// then generateName's prefix "<replicaset>-" cut to 58 and 5 characters.
std::string deploymentPod(const std::string& deployment, std::size_t hashLength) {
  const std::string hash = std::string("7d9c5b8f4c").substr(0, hashLength);
  std::string prefix = deployment + "-" + hash + "-";
  prefix.resize(std::min<std::size_t>(prefix.size(), kMaxGeneratedNamePrefix));
  return prefix + "x2b4q";
}

// The pods' regex with ${target} replaced as expandTemplate does (regex-escaped;
// std::regex reads this RE2 subset alike), fully anchored as PromQL's =~ is.
bool podMatches(const core::TargetRef& target, const std::string& pod) {
  const TargetPods pods = targetPods(target);
  std::string regex = pods.regex;
  for (std::size_t at = regex.find("${target}"); at != std::string::npos; at = regex.find("${target}")) {
    regex.replace(at, 9, escapeRegex(pods.name));
  }
  return std::regex_match(pod, std::regex(regex));
}

TEST_CASE("a Deployment's pods match at every name length, those of a longer-named one do not") {
  // Past 46 characters generateName cuts the pods' names to 63 characters:
  // their hash is cut, or (from 58 on) the Deployment's own name.
  for (std::size_t length = 1; length <= 70; ++length) {
    CAPTURE(length);
    core::TargetRef target{"apps/v1", "Deployment", std::string(length, 'a')};
    const std::string decoy = target.name + "-70b";  // a Deployment named a little longer
    for (std::size_t hash = 1; hash <= 10; ++hash) {
      CAPTURE(hash);
      const std::string pod = deploymentPod(target.name, hash);
      CHECK(pod.size() <= 63);
      CHECK(podMatches(target, pod));
      if (length + 3 <= kMaxGeneratedNamePrefix) {
        // Beyond, the decoy's pods are cut before its "0" (not in the safe
        // alphabet): "<name>-7<5>" looks like a pod of <name> with its hash cut.
        CHECK_FALSE(podMatches(target, deploymentPod(decoy, hash)));
      }
    }
    CHECK_FALSE(podMatches(target, target.name + "-0"));  // a StatefulSet's pod
  }
  // A StatefulSet's ordinals, and not a Deployment's pods.
  const core::TargetRef statefulSet{"apps/v1", "StatefulSet", "vllm"};
  CHECK(podMatches(statefulSet, "vllm-0"));
  CHECK(podMatches(statefulSet, "vllm-12"));
  CHECK_FALSE(podMatches(statefulSet, "vllm-70b-0"));
  CHECK_FALSE(podMatches(statefulSet, "vllm-7d9c5b8f4c-x2b4q"));
}

TEST_CASE("the default queries of long Deployment names, cut as Kubernetes cuts their pods' names") {
  const std::string fifty(50, 'm');  // the hash keeps 7 characters when cut: 50 + 1 + 7 + 5 = 63
  CHECK(targetPods({"apps/v1", "Deployment", fifty}).regex ==
        std::string("${target}-") + kSafe + "{1,6}-" + kSafe + "{5}|${target}-" + kSafe + "{12}");
  const std::string sixty(60, 'm');  // cut inside the name: its first 58 characters
  auto queries = policyQueries(policy("llm", "p", sixty), {});
  REQUIRE(queries.ok());
  CHECK(queries.value().gpuUtilization ==
        R"(avg(DCGM_FI_DEV_GPU_UTIL{namespace="llm",pod=~")" + std::string(58, 'm') + kSafe + R"({5}"}))");
  // The replicas are kube-state-metrics' by the full name.
  CHECK(queries.value().replicas ==
        R"(max(kube_deployment_spec_replicas{namespace="llm",deployment=")" + sixty + R"("}))");
  CHECK(queries.value().readyReplicas ==
        R"(max(kube_deployment_status_replicas_ready{namespace="llm",deployment=")" + sixty + R"("}))");
}

TEST_CASE("defaultMetricQuery puts the pods' regex in each metric's matcher") {
  CHECK(defaultMetricQuery(DefaultMetric::kRequestQueueDepth, kStatefulSetPodsRegex) ==
        R"(sum(inference_request_queue_depth{namespace="${namespace}",pod=~"${target}-[0-9]+"}))");
  CHECK(defaultMetricQuery(DefaultMetric::kGpuUtilization, kDeploymentPodsRegex) ==
        std::string(R"(avg(DCGM_FI_DEV_GPU_UTIL{namespace="${namespace}",pod=~"${target}-)") + kSafe + "{1,10}-" +
            kSafe + R"({5}"}))");
}

TEST_CASE("no replicas queries when another source gives the replicas (serve --kubernetes reads the target)") {
  QueryOptions options;
  options.queryReplicas = false;
  options.replicasQuery = "max(${broken";  // not even expanded
  auto queries = policyQueries(policy("llm", "p", "vllm", "StatefulSet"), options);
  REQUIRE(queries.ok());
  CHECK_FALSE(queries.value().replicas.has_value());
  CHECK_FALSE(queries.value().readyReplicas.has_value());
  CHECK(queries.value().gpuUtilization.has_value());
}

TEST_CASE("--replicas-query replaces the default for every kind") {
  QueryOptions options;
  options.replicasQuery = R"(max(my_replicas{ns="${namespace}",app="${target}",policy="${policy}"}))";
  for (const char* kind : {"Deployment", "StatefulSet"}) {
    auto queries = policyQueries(policy("llm", "p1", "vllm", kind), options);
    REQUIRE(queries.ok());
    CHECK(queries.value().replicas == R"(max(my_replicas{ns="llm",app="vllm",policy="p1"}))");
    // Not the ready replicas: still kube-state-metrics' series of the kind.
    CHECK(queries.value().readyReplicas.has_value());
    CHECK(queries.value().readyReplicas->find("_status_replicas_ready{") != std::string::npos);
  }
}

TEST_CASE("a policy's own prometheusQuery replaces the default and one latency query serves both quantiles") {
  core::Policy p = policy("llm", "chat-policy", "chat");
  p.spec.metrics.latency->prometheusQuery =
      R"(histogram_quantile(${quantile}, sum by (le) (rate(vllm:e2e_request_latency_seconds_bucket{namespace="${namespace}",model_name="${policy}"}[1m]))))";
  p.spec.metrics.gpuUtilization->prometheusQuery = R"(avg(nv_gpu_utilization{namespace="${namespace}"}) * 100)";
  p.spec.metrics.requestQueueDepth->prometheusQuery = R"(sum(vllm:num_requests_waiting{namespace="${namespace}"}))";
  auto queries = policyQueries(p, {});
  REQUIRE(queries.ok());
  CHECK(queries.value().latencyP99 ==
        R"(histogram_quantile(0.99, sum by (le) (rate(vllm:e2e_request_latency_seconds_bucket{namespace="llm",model_name="chat-policy"}[1m]))))");
  CHECK(queries.value().latencyP95 ==
        R"(histogram_quantile(0.95, sum by (le) (rate(vllm:e2e_request_latency_seconds_bucket{namespace="llm",model_name="chat-policy"}[1m]))))");
  CHECK(queries.value().gpuUtilization == R"(avg(nv_gpu_utilization{namespace="llm"}) * 100)");
  CHECK(queries.value().requestQueueDepth == R"(sum(vllm:num_requests_waiting{namespace="llm"}))");
}

TEST_CASE("only enabled metrics with a target are queried") {
  core::Policy p = policy("default", "p", "t");
  SUBCASE("disabled blocks are not queried") {
    p.spec.metrics.latency->enabled = false;
    p.spec.metrics.requestQueueDepth->enabled = false;
    auto queries = policyQueries(p, {});
    REQUIRE(queries.ok());
    CHECK_FALSE(queries.value().latencyP99);
    CHECK_FALSE(queries.value().latencyP95);
    CHECK_FALSE(queries.value().requestQueueDepth);
    CHECK(queries.value().gpuUtilization);
  }
  SUBCASE("a block left out is not queried") {
    p.spec.metrics.gpuUtilization.reset();
    auto queries = policyQueries(p, {});
    REQUIRE(queries.ok());
    CHECK_FALSE(queries.value().gpuUtilization);
  }
  SUBCASE("a quantile without a target is not queried, and a queue target of 0 is no target") {
    p.spec.metrics.latency->targetP95Ms.reset();
    p.spec.metrics.requestQueueDepth->targetDepth = 0.0;
    auto queries = policyQueries(p, {});
    REQUIRE(queries.ok());
    CHECK(queries.value().latencyP99);
    CHECK_FALSE(queries.value().latencyP95);
    CHECK_FALSE(queries.value().requestQueueDepth);
  }
  SUBCASE("a disabled metric's broken query is not an error") {
    p.spec.metrics.latency->enabled = false;
    p.spec.metrics.latency->prometheusQuery = "${nope}";
    CHECK(policyQueries(p, {}).ok());
  }
}

TEST_CASE("values are escaped as PromQL string contents") {
  // Kubernetes names cannot hold these, but policies from files are data.
  const TemplateValues values{"a\"b\\c\nd\te\rf\x01g'h", "t", "p", {}};
  CHECK(expand(R"(x{ns="${namespace}"})", values) == R"(x{ns="a\"b\\c\nd\te\rf\x01g'h"})");
  // In a single-quoted string only ' is escaped: \" would be an unknown escape there.
  CHECK(expand(R"(x{ns='${namespace}'})", values) == R"(x{ns='a"b\\c\nd\te\rf\x01g\'h'})");
  // A raw string cannot escape, so it takes any value but a backtick.
  CHECK(expand("x{ns=`${target}`}", values) == "x{ns=`t`}");
  CHECK(contains(expandError("x{ns=`${namespace}`}", TemplateValues{"a`b", "t", "p", {}}), "backtick"));
  // UTF-8 passes through.
  CHECK(expand(R"(x{ns="${namespace}"})", TemplateValues{"ünï", "t", "p", {}}) == R"(x{ns="ünï"})");
}

TEST_CASE("values in a regex matcher are regex-escaped, so they match literally") {
  const TemplateValues values{"ns", "my.app+v2", "p", {}};
  // The regex \. is written "\\." in PromQL.
  CHECK(expand(R"(x{pod=~"${target}-.*"})", values) == R"(x{pod=~"my\\.app\\+v2-.*"})");
  CHECK(expand(R"(x{pod!~ "${target}"})", values) == R"(x{pod!~ "my\\.app\\+v2"})");
  CHECK(expand(R"(x{pod="${target}"})", values) == R"(x{pod="my.app+v2"})");
  CHECK(expand(R"(x{pod=~`${target}.*`})", values) == R"(x{pod=~`my\.app\+v2.*`})");
}

TEST_CASE("every placeholder is substituted, as often as it appears") {
  const TemplateValues values{"ns1", "tgt", "pol", "0.99"};
  CHECK(expand(R"(f(${quantile}, x{a="${namespace}", b="${target}", c="${policy}", d="${namespace}", q="${quantile}"}))",
               values) == R"(f(0.99, x{a="ns1", b="tgt", c="pol", d="ns1", q="0.99"}))");
  // Escaped quotes do not end the string, and '$' alone is no placeholder.
  CHECK(expand(R"(x{a="\"${target}\"", b=~"^v$"})", values) == R"(x{a="\"tgt\"", b=~"^v$"})");
  // A comment is copied as is; its quote opens no string.
  CHECK(expand("x{a=\"${target}\"} # it's ${whatever}\n+ y", values) == "x{a=\"tgt\"} # it's ${whatever}\n+ y");
}

TEST_CASE("template errors say what is wrong and where") {
  const TemplateValues latency{"ns", "t", "p", "0.99"};
  const TemplateValues other{"ns", "t", "p", {}};
  // Rows: template, values, expected part of the message.
  CHECK(contains(expandError(R"(x{a="${name}"})", latency),
                 "unknown placeholder ${name} at character 6 (known: ${namespace}, ${target}, ${policy}, ${quantile})"));
  CHECK(contains(expandError(R"(x{a="${quantile}"})", other), "${quantile} is known in latency queries only"));
  CHECK(contains(expandError(R"(x{a="${target"})", other), "unterminated placeholder at character 6"));
  CHECK(contains(expandError(R"(x{a=${target}})", other), "${target} at character 5 must be inside a quoted string"));
  CHECK(contains(expandError(R"(x{a="${target}})", other), "string opened at character 5 is not closed"));
  CHECK(contains(expandError("${policy}_total", other), "must be inside a quoted string"));
}

TEST_CASE("policyQueries names the field of every broken query at once") {
  core::Policy p = policy("default", "p", "t");
  p.spec.metrics.latency->prometheusQuery = R"(x{a="${model}"})";
  p.spec.metrics.requestQueueDepth->prometheusQuery = R"(y{a="${quantile}"})";
  QueryOptions options;
  options.replicasQuery = "z{a=${target}}";
  auto queries = policyQueries(p, options);
  REQUIRE_FALSE(queries.ok());
  const std::string& message = queries.error().message;
  CHECK(contains(message, "spec.metrics.latency.prometheusQuery: unknown placeholder ${model}"));
  CHECK(message.find("spec.metrics.latency.prometheusQuery") ==
        message.rfind("spec.metrics.latency.prometheusQuery"));  // once, not per quantile
  CHECK(contains(message, "spec.metrics.requestQueueDepth.prometheusQuery: unknown placeholder ${quantile}"));
  CHECK(contains(message, "--replicas-query: ${target} at character 5 must be inside a quoted string"));
  CHECK_FALSE(contains(message, "gpuUtilization"));
}

TEST_CASE("checkReplicasQuery accepts the defaults and refuses a broken template") {
  CHECK(checkReplicasQuery(kDefaultDeploymentReplicasQuery).ok());
  CHECK(checkReplicasQuery(kDefaultStatefulSetReplicasQuery).ok());
  const core::Status bad = checkReplicasQuery(R"(x{a="${quantile}"})");
  REQUIRE_FALSE(bad.ok());
  CHECK(contains(bad.error().message, "${quantile} is known in latency queries only"));
}

TEST_CASE("escapeRegex escapes every RE2 metacharacter") {
  CHECK(escapeRegex(R"(a.b+c*d?e(f)g|h[i]j{k}l^m$n\o-p)") == R"(a\.b\+c\*d\?e\(f\)g\|h\[i\]j\{k\}l\^m\$n\\o-p)");
}

}  // namespace
}  // namespace kubeai::source::prometheus
