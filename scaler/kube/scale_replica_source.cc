#include "kube/scale_replica_source.h"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <thread>

#include "core/validation.h"
#include "kube/api_status.h"
#include "kube/scale_object.h"

namespace kubeai::kube {
namespace {

// Joins with +=: GCC 12 warns falsely (-Wrestrict) on "literal" + std::string.
template <typename... Parts>
std::string concat(const Parts&... parts) {
  std::string out;
  ((out += parts), ...);
  return out;
}

}  // namespace

bool isTargetNotFound(std::string_view message) noexcept {
  return message.find(kTargetNotFoundPrefix) != std::string_view::npos;
}

ScaleReplicaSource::ScaleReplicaSource(source::MetricSource& inner, KubeClient& client,
                                       ScaleReplicaSourceOptions options)
    : inner_(inner), client_(client), options_(options) {}

core::Result<TargetRead> ScaleReplicaSource::targetRead(const core::Policy& policy) {
  const core::TargetRef& target = policy.spec.targetRef;
  std::string plural;
  if (target.kind == "Deployment") {
    plural = "deployments";
  } else if (target.kind == "StatefulSet") {
    plural = "statefulsets";
  } else {
    std::string message = "spec.targetRef.kind ";
    message += target.kind;
    message += ": only a Deployment's or StatefulSet's replicas are read";
    return core::Error{std::move(message)};
  }
  const std::string apiVersion = target.apiVersion.empty() ? std::string("apps/v1") : target.apiVersion;
  // Validation refuses these already; checked again because each one is
  // pasted into the path, where a '/', '?', '#' or ".." would address
  // another object (another namespace's Deployment) with our credentials.
  if (!core::isApiGroupVersion(apiVersion)) {
    return core::Error{concat("spec.targetRef.apiVersion \"", apiVersion,
                              "\": not an API group/version such as apps/v1; the target is not read")};
  }
  if (!core::isDns1123Label(policy.metadata.namespace_)) {
    return core::Error{concat("metadata.namespace \"", policy.metadata.namespace_,
                              "\": not an RFC 1123 label; the target is not read")};
  }
  if (!core::isDns1123Subdomain(target.name)) {
    return core::Error{concat("spec.targetRef.name \"", target.name,
                              "\": not an RFC 1123 subdomain; the target is not read")};
  }
  // A core-group version ("v1") lives under /api, the others under /apis.
  std::string path = apiVersion.find('/') == std::string::npos ? "/api/" : "/apis/";
  path += apiVersion;
  path += "/namespaces/";
  path += policy.metadata.namespace_;
  path += "/";
  path += plural;
  path += "/";
  path += target.name;
  // apps/v1's own objects carry status.readyReplicas, which a Scale has not;
  // any other group/version (a Deployment or StatefulSet of another API, such
  // as OpenKruise's) is read through the generic /scale contract.
  const bool scale = apiVersion != "apps/v1";
  if (scale) {
    path += "/scale";
  }
  return TargetRead{std::move(path), scale};
}

core::Result<ScaleReplicaSource::Replicas> ScaleReplicaSource::fetch(const core::Policy& policy,
                                                                     const TargetRead& read) {
  const std::string& path = read.path;
  auto response = client_.request("GET", path, {}, {}, options_.timeout);
  if (!response.ok()) {
    return response.error();  // names the method and the path
  }
  const long status = response.value().status;
  if (status == 404) {
    std::string message(kTargetNotFoundPrefix);
    message += "target ";
    message += policy.spec.targetRef.kind;
    message += " ";
    message += policy.metadata.namespace_;
    message += "/";
    message += policy.spec.targetRef.name;
    message += " not found";
    return core::Error{std::move(message)};
  }
  if (status != 200) {
    std::string message = "GET ";
    message += path;
    message += ": ";
    message += detail::parseApiStatus(status, response.value().body).describe();
    return core::Error{std::move(message)};
  }
  if (read.scale) {
    auto replicas = detail::parseScaleReplicas(response.value().body);
    if (!replicas.ok()) {
      return replicas.error().withContext(concat("GET ", path));
    }
    return Replicas{replicas.value(), std::nullopt};
  }
  auto replicas = detail::parseWorkloadReplicas(response.value().body, policy.spec.targetRef.kind);
  if (!replicas.ok()) {
    return replicas.error().withContext(concat("GET ", path));
  }
  return Replicas{replicas.value().replicas, replicas.value().readyReplicas};
}

bool ScaleReplicaSource::fromCache(const core::Policy& policy, core::Result<source::MetricReading>& reading) const {
  const core::TargetRef& target = policy.spec.targetRef;
  const TargetKind kind = target.kind == "StatefulSet" ? TargetKind::kStatefulSet : TargetKind::kDeployment;
  const TargetLookup found =
      options_.targets->lookup(kind, policy.metadata.namespace_, target.name, options_.targetsUnhealthyAfter);
  auto named = [&] { return concat("target ", target.kind, " ", policy.metadata.namespace_, "/", target.name); };
  switch (found.state) {
    case TargetLookup::State::kNotWatched:
      return false;  // a namespace no watch covers: GET it
    case TargetLookup::State::kNotSynced:
      reading = core::Error{concat(named(), ": the ", pluralName(kind), " of namespace ", policy.metadata.namespace_,
                                   " are not listed yet from the Kubernetes API")};
      return true;
    case TargetLookup::State::kNotFound:
      reading = core::Error{concat(kTargetNotFoundPrefix, named(), " not found")};
      return true;
    case TargetLookup::State::kInvalid:
      reading = core::Error{concat(named(), ": ", found.error)};
      return true;
    case TargetLookup::State::kUnhealthy:
      // Not a GET instead: the API that fails the watch would fail it too,
      // one request per policy per cycle.
      reading = core::Error{concat(named(), ": the ", pluralName(kind), " watch of namespace ",
                                   policy.metadata.namespace_, " has failed for ",
                                   std::to_string(found.failingFor.count() / 1000), "s: ", found.error)};
      return true;
    case TargetLookup::State::kFound:
      break;
  }
  // Both from the target, never the inner source's (see below).
  reading.value().currentReplicas = found.replicas;
  reading.value().readyReplicas = found.ready;
  return true;
}

std::vector<core::Result<source::MetricReading>> ScaleReplicaSource::readPolicies(const core::PolicyList& policies) {
  std::vector<core::Result<source::MetricReading>> readings = inner_.read(policies);
  if (readings.size() != policies.size()) {
    return readings;  // the loop reports the mismatch
  }
  // One request per distinct target: several policies may share one.
  std::vector<TargetRead> reads;
  std::vector<const core::Policy*> owners;  // the first policy naming each path: for messages
  std::vector<std::optional<std::size_t>> pathOf(policies.size());
  std::map<std::string, std::size_t> indexOf;
  for (std::size_t i = 0; i < policies.size(); ++i) {
    if (!readings[i].ok()) {
      continue;  // no metrics: the replicas would not be used
    }
    auto read = targetRead(*policies[i]);
    if (!read.ok()) {
      readings[i] = read.error();
      continue;
    }
    if (!read.value().scale && options_.targets != nullptr && fromCache(*policies[i], readings[i])) {
      continue;  // the watch's: no request
    }
    auto [found, inserted] = indexOf.try_emplace(read.value().path, reads.size());
    if (inserted) {
      reads.push_back(std::move(read).value());
      owners.push_back(policies[i].get());
    }
    pathOf[i] = found->second;
  }

  std::vector<std::optional<core::Result<Replicas>>> results(reads.size());
  std::atomic<std::size_t> next{0};
  auto work = [&] {
    for (std::size_t j = next++; j < reads.size(); j = next++) {
      results[j] = fetch(*owners[j], reads[j]);
    }
  };
  const std::size_t workers = std::min(std::max<std::size_t>(options_.parallelism, 1), reads.size());
  {
    std::vector<std::jthread> threads;
    threads.reserve(workers > 0 ? workers - 1 : 0);
    for (std::size_t w = 1; w < workers; ++w) {
      threads.emplace_back(work);
    }
    work();  // this thread is a worker too
  }  // joined

  for (std::size_t i = 0; i < policies.size(); ++i) {
    if (!pathOf[i]) {
      continue;
    }
    const core::Result<Replicas>& replicas = *results[*pathOf[i]];
    if (!replicas.ok()) {
      // The same path is the same target: the message fits every policy naming it.
      readings[i] = replicas.error();
      continue;
    }
    // Both from the target, never the inner source's: a count read elsewhere
    // at another time would not match the current replicas.
    readings[i].value().currentReplicas = replicas.value().current;
    readings[i].value().readyReplicas = replicas.value().ready;
  }
  return readings;
}

}  // namespace kubeai::kube
