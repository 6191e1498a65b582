#include "cli/query_command.h"

#include <grpcpp/grpcpp.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <ostream>
#include <sstream>

#include "cli/exit_codes.h"
#include "core/result.h"
#include "externalscaler.grpc.pb.h"
#include "telemetry/telemetry.h"

namespace kubeai::cli {
namespace {

core::Result<std::string> readFile(const std::string& path, const char* what) {
  std::ifstream stream(path, std::ios::binary);
  if (!stream) {
    return core::Error{std::string("cannot read ") + what + " " + path};
  }
  std::ostringstream contents;
  contents << stream.rdbuf();
  return contents.str();
}

core::Result<std::shared_ptr<grpc::ChannelCredentials>> credentials(const QueryOptions& options) {
  if (options.tlsCaFile.empty()) {
    if (!options.tlsCertFile.empty() || !options.tlsKeyFile.empty()) {
      return core::Error{"--tls-cert-file and --tls-key-file need --tls-ca-file"};
    }
    return grpc::InsecureChannelCredentials();
  }
  if (options.tlsCertFile.empty() != options.tlsKeyFile.empty()) {
    return core::Error{"--tls-cert-file and --tls-key-file go together"};
  }
  grpc::SslCredentialsOptions ssl;
  auto ca = readFile(options.tlsCaFile, "--tls-ca-file");
  if (!ca.ok()) {
    return ca.error();
  }
  ssl.pem_root_certs = ca.value();
  if (!options.tlsCertFile.empty()) {
    auto cert = readFile(options.tlsCertFile, "--tls-cert-file");
    auto key = readFile(options.tlsKeyFile, "--tls-key-file");
    if (!cert.ok()) {
      return cert.error();
    }
    if (!key.ok()) {
      return key.error();
    }
    ssl.pem_cert_chain = cert.value();
    ssl.pem_private_key = key.value();
  }
  return grpc::SslCredentials(ssl);
}

std::string codeName(grpc::StatusCode code) {
  return std::string(telemetry::grpcCodeName(static_cast<int>(code)));
}

nlohmann::json statusJson(const grpc::Status& status) {
  return {{"code", codeName(status.error_code())}, {"message", status.error_message()}};
}

}  // namespace

int runQuery(const QueryOptions& options, std::ostream& out, std::ostream& err) {
  if (options.address.empty() || options.policy.empty()) {
    err << "error: --address and --policy are required\n";
    return kExitUsage;
  }
  if (options.output != "text" && options.output != "json") {
    err << "error: --output must be text or json\n";
    return kExitUsage;
  }
  auto creds = credentials(options);
  if (!creds.ok()) {
    err << "error: " << creds.error().message << "\n";
    return kExitUsage;
  }
  grpc::ChannelArguments arguments;
  if (!options.tlsServerName.empty()) {
    arguments.SetSslTargetNameOverride(options.tlsServerName);
  }
  const auto channel = grpc::CreateCustomChannel(options.address, creds.value(), arguments);
  const auto stub = externalscaler::ExternalScaler::NewStub(channel);

  externalscaler::ScaledObjectRef ref;
  ref.set_name(options.policy);
  ref.set_namespace_(options.ns);
  (*ref.mutable_scalermetadata())["policyName"] = options.policy;
  (*ref.mutable_scalermetadata())["policyNamespace"] = options.ns;
  const auto deadline = std::chrono::system_clock::now() + options.timeout;

  // In KEDA's order: the spec names the metric that GetMetrics then asks for.
  grpc::ClientContext specContext;
  specContext.set_deadline(deadline);
  externalscaler::GetMetricSpecResponse spec;
  const grpc::Status specStatus = stub->GetMetricSpec(&specContext, ref, &spec);

  std::string metricName = "kubeai-" + options.policy;
  if (specStatus.ok() && spec.metricspecs_size() > 0) {
    metricName = spec.metricspecs(0).metricname();
  }
  grpc::ClientContext metricsContext;
  metricsContext.set_deadline(deadline);
  externalscaler::GetMetricsRequest metricsRequest;
  *metricsRequest.mutable_scaledobjectref() = ref;
  metricsRequest.set_metricname(metricName);
  externalscaler::GetMetricsResponse metrics;
  const grpc::Status metricsStatus = stub->GetMetrics(&metricsContext, metricsRequest, &metrics);

  grpc::ClientContext activeContext;
  activeContext.set_deadline(deadline);
  externalscaler::IsActiveResponse active;
  const grpc::Status activeStatus = stub->IsActive(&activeContext, ref, &active);

  if (options.output == "json") {
    nlohmann::json result = {{"policy", options.ns + "/" + options.policy}, {"address", options.address}};
    nlohmann::json specs = nlohmann::json::array();
    for (const auto& item : spec.metricspecs()) {
      specs.push_back({{"metricName", item.metricname()},
                       {"targetSize", item.targetsize()},
                       {"targetSizeFloat", item.targetsizefloat()}});
    }
    result["getMetricSpec"] = specStatus.ok() ? nlohmann::json{{"metricSpecs", specs}} : statusJson(specStatus);
    nlohmann::json values = nlohmann::json::array();
    for (const auto& item : metrics.metricvalues()) {
      values.push_back({{"metricName", item.metricname()},
                        {"metricValue", item.metricvalue()},
                        {"metricValueFloat", item.metricvaluefloat()}});
    }
    result["getMetrics"] = metricsStatus.ok() ? nlohmann::json{{"metricValues", values}} : statusJson(metricsStatus);
    result["isActive"] = activeStatus.ok() ? nlohmann::json{{"result", active.result()}} : statusJson(activeStatus);
    out << result.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  } else {
    out << "policy:        " << options.ns << "/" << options.policy << " at " << options.address << "\n";
    // One line per call: its answer, or the status it failed with.
    auto line = [&out](const char* label, const grpc::Status& status, const std::string& answer) {
      out << label << (status.ok() ? answer : codeName(status.error_code()) + ": " + status.error_message()) << "\n";
    };
    std::string specText;
    for (const auto& item : spec.metricspecs()) {
      specText += item.metricname() + " target " + std::to_string(item.targetsize());
    }
    std::string metricsText;
    for (const auto& item : metrics.metricvalues()) {
      metricsText += item.metricname() + " = " + std::to_string(item.metricvalue()) + " (desired replicas)";
    }
    line("GetMetricSpec: ", specStatus, specText);
    line("GetMetrics:    ", metricsStatus, metricsText);
    line("IsActive:      ", activeStatus, active.result() ? "true" : "false");
  }
  return specStatus.ok() && metricsStatus.ok() && activeStatus.ok() ? kExitOk : kExitFailure;
}

}  // namespace kubeai::cli
