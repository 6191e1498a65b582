// loadKubeConfig: kubeconfig files (as kubectl reads them) and the in-cluster
// service account.
#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdlib>
#include <system_error>

#include <yaml-cpp/yaml.h>

#include "http/small_file.h"
#include "kube/client/file_util.h"
#include "kube/client/kube_client.h"
#include "kube/client/kubeconfig_text.h"

namespace kubeai::kube {
namespace detail {

core::Result<std::string> readSmallFile(const std::filesystem::path& path, std::string_view what) {
  return http::readSmallFile(path, what, kMaxCredentialFileBytes);
}

core::Result<std::string> readTokenFile(const std::filesystem::path& path, std::string_view what) {
  return http::readTokenFile(path, what, kMaxCredentialFileBytes);
}

core::Result<std::string> decodeBase64(std::string_view text) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') {
      return c - 'A';
    }
    if (c >= 'a' && c <= 'z') {
      return c - 'a' + 26;
    }
    if (c >= '0' && c <= '9') {
      return c - '0' + 52;
    }
    if (c == '+') {
      return 62;
    }
    if (c == '/') {
      return 63;
    }
    return -1;
  };
  std::string out;
  out.reserve(text.size() * 3 / 4);
  unsigned accumulator = 0;
  int bits = 0;
  std::size_t padding = 0;
  std::size_t symbols = 0;
  for (const char c : text) {
    if (c == ' ' || c == '\n' || c == '\r' || c == '\t') {
      continue;
    }
    if (c == '=') {
      ++padding;
      continue;
    }
    const int v = value(c);
    if (v < 0 || padding > 0) {
      return core::Error{"not valid base64"};
    }
    ++symbols;
    accumulator = (accumulator << 6U) | static_cast<unsigned>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((accumulator >> static_cast<unsigned>(bits)) & 0xFFU);
    }
  }
  if (padding > 2 || symbols % 4 == 1 || (padding > 0 && (symbols + padding) % 4 != 0)) {
    return core::Error{"not valid base64"};
  }
  return out;
}

}  // namespace detail

namespace {

constexpr const char* kServiceAccountDirEnv = "KUBEAI_SERVICEACCOUNT_DIR";
constexpr const char* kServiceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount";

std::string inQuotes(std::string_view text) {
  std::string out = "\"";
  out += text;
  out += '"';
  return out;
}

std::string envOr(const char* name, std::string fallback = {}) {
  const char* value = std::getenv(name);  // NOLINT(concurrency-mt-unsafe): start-up only
  return value != nullptr ? std::string(value) : fallback;
}

// Builds "kubeconfig <file>: <where>: <why>" errors.
class KubeconfigErrors {
 public:
  explicit KubeconfigErrors(const std::filesystem::path& file) {
    prefix_ = "kubeconfig ";
    prefix_ += file.string();
  }
  [[nodiscard]] core::Error operator()(std::string_view why) const {
    std::string message = prefix_;
    message += ": ";
    message += why;
    return core::Error{message};
  }

 private:
  std::string prefix_;
};

// A scalar field of a map node, or empty; an error when it is there but not a scalar.
core::Result<std::string> scalar(const YAML::Node& node, const char* key, const std::string& where) {
  const YAML::Node field = node[key];
  if (!field || field.IsNull()) {
    return std::string();
  }
  if (!field.IsScalar()) {
    std::string why = where;
    why += key;
    why += ": must be a string";
    return core::Error{why};
  }
  return field.Scalar();
}

// The entry of a named list (contexts, clusters, users) called `name`, its
// inner object (`context`, `cluster`, `user`).
core::Result<YAML::Node> findNamed(const YAML::Node& root, const char* list, const char* inner, const std::string& name,
                                   const char* kind) {
  const YAML::Node entries = root[list];
  if (entries && !entries.IsNull() && !entries.IsSequence()) {
    std::string why = list;
    why += ": must be a list";
    return core::Error{why};
  }
  if (entries && entries.IsSequence()) {
    for (const auto& entry : entries) {
      if (entry.IsMap() && entry["name"] && entry["name"].IsScalar() && entry["name"].Scalar() == name) {
        YAML::Node object = entry[inner];
        if (!object || object.IsNull()) {
          return YAML::Node(YAML::NodeType::Map);
        }
        if (!object.IsMap()) {
          std::string why = kind;
          why += ' ';
          why += inQuotes(name);
          why += ": ";
          why += inner;
          why += " must be a map";
          return core::Error{why};
        }
        return object;
      }
    }
  }
  std::string why = kind;
  why += ' ';
  why += inQuotes(name);
  why += " not found";
  return core::Error{why};
}

// Relative paths in a kubeconfig are relative to the file's directory.
std::filesystem::path resolve(const std::filesystem::path& base, const std::string& path) {
  const std::filesystem::path p(path);
  return p.is_absolute() ? p : base / p;
}

// `<field>-data` (base64) wins over `<field>` (a file), as in client-go.
core::Result<std::string> dataOrFile(const YAML::Node& node, const std::string& field, const std::string& where,
                                     const std::filesystem::path& base) {
  const std::string dataKey = field + "-data";
  auto data = scalar(node, dataKey.c_str(), where);
  if (!data) {
    return data.error();
  }
  if (!data.value().empty()) {
    auto decoded = detail::decodeBase64(data.value());
    if (!decoded) {
      std::string why = where;
      why += dataKey;
      why += ": ";
      why += decoded.error().message;
      return core::Error{why};
    }
    return decoded;
  }
  auto file = scalar(node, field.c_str(), where);
  if (!file) {
    return file.error();
  }
  if (file.value().empty()) {
    return std::string();
  }
  std::string what = where;
  what += field;
  return detail::readSmallFile(resolve(base, file.value()), what);
}

// Every node is type-checked before it is indexed (yaml-cpp throws
// BadSubscript on a scalar's operator[]); parseKubeconfig catches what slips
// through.
core::Result<KubeConfig> parseKubeconfigChecked(std::string_view text, const std::filesystem::path& file) {
  const KubeconfigErrors fail(file);
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    std::string why = "not valid YAML: ";
    why += e.what();
    return fail(why);
  }
  if (!root.IsMap()) {
    return fail("not a kubeconfig (expected a map with clusters, contexts, users)");
  }
  const std::filesystem::path base = file.parent_path();
  auto wrap = [&](auto result) { return result ? std::move(result) : decltype(result)(fail(result.error().message)); };

  auto currentContext = wrap(scalar(root, "current-context", ""));
  if (!currentContext) {
    return currentContext.error();
  }
  if (currentContext.value().empty()) {
    return fail("current-context is not set");
  }
  const std::string& contextName = currentContext.value();
  auto context = wrap(findNamed(root, "contexts", "context", contextName, "context"));
  if (!context) {
    return context.error();
  }
  std::string contextWhere = "context ";
  contextWhere += inQuotes(contextName);
  contextWhere += ": ";
  auto clusterName = wrap(scalar(context.value(), "cluster", contextWhere));
  auto userName = wrap(scalar(context.value(), "user", contextWhere));
  auto ns = wrap(scalar(context.value(), "namespace", contextWhere));
  for (const auto* result : {&clusterName, &userName, &ns}) {
    if (!*result) {
      return result->error();
    }
  }
  if (clusterName.value().empty()) {
    std::string why = contextWhere;
    why += "cluster is not set";
    return fail(why);
  }

  KubeConfig config;
  config.ns = ns.value().empty() ? "default" : ns.value();
  config.source = "kubeconfig ";
  config.source += file.string();
  config.source += " (context ";
  config.source += contextName;
  config.source += ')';

  auto cluster = wrap(findNamed(root, "clusters", "cluster", clusterName.value(), "cluster"));
  if (!cluster) {
    return cluster.error();
  }
  std::string clusterWhere = "cluster ";
  clusterWhere += inQuotes(clusterName.value());
  clusterWhere += ": ";
  auto server = wrap(scalar(cluster.value(), "server", clusterWhere));
  if (!server) {
    return server.error();
  }
  if (server.value().empty()) {
    std::string why = clusterWhere;
    why += "server is not set";
    return fail(why);
  }
  config.server = server.value();
  auto ca = wrap(dataOrFile(cluster.value(), "certificate-authority", clusterWhere, base));
  if (!ca) {
    return ca.error();
  }
  config.caData = std::move(ca).value();
  auto insecure = wrap(scalar(cluster.value(), "insecure-skip-tls-verify", clusterWhere));
  if (!insecure) {
    return insecure.error();
  }
  if (insecure.value() == "true" || insecure.value() == "True" || insecure.value() == "TRUE") {
    config.insecureSkipTlsVerify = true;
  } else if (!insecure.value().empty() && insecure.value() != "false" && insecure.value() != "False" &&
             insecure.value() != "FALSE") {
    std::string why = clusterWhere;
    why += "insecure-skip-tls-verify: must be true or false";
    return fail(why);
  }
  auto serverName = wrap(scalar(cluster.value(), "tls-server-name", clusterWhere));
  if (!serverName) {
    return serverName.error();
  }
  config.tlsServerName = serverName.value();
  if (auto proxy = scalar(cluster.value(), "proxy-url", clusterWhere); proxy && !proxy.value().empty()) {
    std::string why = clusterWhere;
    why += "proxy-url is not supported";
    return fail(why);
  }

  if (userName.value().empty()) {
    return config;  // no credentials: anonymous (or the server's own rules)
  }
  auto user = wrap(findNamed(root, "users", "user", userName.value(), "user"));
  if (!user) {
    return user.error();
  }
  std::string userWhere = "user ";
  userWhere += inQuotes(userName.value());
  userWhere += ": ";
  const YAML::Node& u = user.value();
  if (const YAML::Node provider = u["auth-provider"]; provider && !provider.IsNull()) {
    std::string why = userWhere;
    why += "auth-provider";
    if (provider.IsMap()) {
      if (const YAML::Node name = provider["name"]; name && name.IsScalar()) {
        why += ' ';
        why += inQuotes(name.Scalar());
      }
    }
    why += " is not supported (removed from kubectl in 1.26): use an exec credential plugin";
    return fail(why);
  }
  if ((u["username"] && !u["username"].IsNull()) || (u["password"] && !u["password"].IsNull())) {
    std::string why = userWhere;
    why += "basic auth (username/password) is not supported";
    return fail(why);
  }
  auto token = wrap(scalar(u, "token", userWhere));
  auto tokenFile = wrap(scalar(u, "tokenFile", userWhere));
  auto cert = wrap(dataOrFile(u, "client-certificate", userWhere, base));
  auto key = wrap(dataOrFile(u, "client-key", userWhere, base));
  for (const auto* result : {&token, &tokenFile, &cert, &key}) {
    if (!*result) {
      return result->error();
    }
  }
  config.token = token.value();
  if (!tokenFile.value().empty()) {
    config.tokenFile = resolve(base, tokenFile.value());
    std::string what = userWhere;
    what += "tokenFile";
    if (auto read = detail::readTokenFile(config.tokenFile, what); !read) {
      return fail(read.error().message);
    }
  }
  config.clientCertData = std::move(cert).value();
  config.clientKeyData = std::move(key).value();
  if (config.clientCertData.empty() != config.clientKeyData.empty()) {
    std::string why = userWhere;
    why += "client-certificate and client-key must be given together";
    return fail(why);
  }

  if (const YAML::Node execNode = u["exec"]; execNode && !execNode.IsNull()) {
    std::string execWhere = userWhere;
    execWhere += "exec.";
    if (!execNode.IsMap()) {
      std::string why = userWhere;
      why += "exec: must be a map";
      return fail(why);
    }
    KubeConfig::Exec exec;
    auto apiVersion = wrap(scalar(execNode, "apiVersion", execWhere));
    auto command = wrap(scalar(execNode, "command", execWhere));
    auto hint = wrap(scalar(execNode, "installHint", execWhere));
    for (const auto* result : {&apiVersion, &command, &hint}) {
      if (!*result) {
        return result->error();
      }
    }
    if (apiVersion.value() != "client.authentication.k8s.io/v1" &&
        apiVersion.value() != "client.authentication.k8s.io/v1beta1") {
      std::string why = execWhere;
      why += "apiVersion: ";
      why += apiVersion.value().empty() ? std::string("not set") : inQuotes(apiVersion.value()) + " is not supported";
      why += " (client.authentication.k8s.io/v1 or v1beta1)";
      return fail(why);
    }
    if (command.value().empty()) {
      std::string why = execWhere;
      why += "command is not set";
      return fail(why);
    }
    exec.apiVersion = apiVersion.value();
    // As kubectl: a relative command with a '/' is relative to the kubeconfig;
    // a bare name is looked up in PATH.
    exec.command = command.value().find('/') == std::string::npos ? command.value()
                                                                   : resolve(base, command.value()).string();
    exec.installHint = hint.value();
    if (const YAML::Node args = execNode["args"]; args && !args.IsNull()) {
      if (!args.IsSequence()) {
        std::string why = execWhere;
        why += "args: must be a list of strings";
        return fail(why);
      }
      for (const auto& arg : args) {
        if (!arg.IsScalar()) {
          std::string why = execWhere;
          why += "args: must be a list of strings";
          return fail(why);
        }
        exec.args.push_back(arg.Scalar());
      }
    }
    if (const YAML::Node env = execNode["env"]; env && !env.IsNull()) {
      if (!env.IsSequence()) {
        std::string why = execWhere;
        why += "env: must be a list of {name, value}";
        return fail(why);
      }
      for (const auto& entry : env) {
        if (!entry.IsMap() || !entry["name"] || !entry["name"].IsScalar() || entry["name"].Scalar().empty()) {
          std::string why = execWhere;
          why += "env: every entry needs a name";
          return fail(why);
        }
        const YAML::Node value = entry["value"];
        if (value && !value.IsNull() && !value.IsScalar()) {
          std::string why = execWhere;
          why += "env: ";
          why += inQuotes(entry["name"].Scalar());
          why += ": value must be a string";
          return fail(why);
        }
        exec.env.emplace_back(entry["name"].Scalar(),
                              value && value.IsScalar() ? value.Scalar() : std::string());
      }
    }
    config.exec = std::move(exec);
  }
  return config;
}

core::Result<KubeConfig> parseKubeconfig(const std::filesystem::path& file) {
  auto text = detail::readSmallFile(file, "kubeconfig");
  if (!text) {
    return text.error();
  }
  return detail::parseKubeconfigText(text.value(), file);
}

core::Result<KubeConfig> inCluster() {
  const std::string host = envOr("KUBERNETES_SERVICE_HOST");
  const std::string port = envOr("KUBERNETES_SERVICE_PORT");
  if (host.empty() || port.empty()) {
    return core::Error{
        "no kubeconfig (--kubeconfig, $KUBECONFIG, ~/.kube/config) and not in a cluster "
        "(KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set)"};
  }
  const std::filesystem::path dir = envOr(kServiceAccountDirEnv, kServiceAccountDir);
  KubeConfig config;
  config.server = "https://";
  if (host.find(':') != std::string::npos) {  // IPv6
    config.server += '[';
    config.server += host;
    config.server += ']';
  } else {
    config.server += host;
  }
  config.server += ':';
  config.server += port;
  config.tokenFile = dir / "token";
  if (auto token = detail::readTokenFile(config.tokenFile, "in-cluster service account token"); !token) {
    return token.error();
  }
  auto ca = detail::readSmallFile(dir / "ca.crt", "in-cluster service account CA");
  if (!ca) {
    return ca.error();
  }
  config.caData = std::move(ca).value();
  config.ns = "default";
  if (auto ns = detail::readTokenFile(dir / "namespace", "in-cluster namespace"); ns) {
    config.ns = std::move(ns).value();
  }
  config.source = "in-cluster";
  return config;
}

}  // namespace

namespace detail {

core::Result<KubeConfig> parseKubeconfigText(std::string_view text, const std::filesystem::path& file) {
  // A malformed kubeconfig is a start-up error naming the file, never an
  // uncaught exception (a scalar where a map belongs aborted the process).
  try {
    return parseKubeconfigChecked(text, file);
  } catch (const YAML::Exception& e) {
    std::string why = "unexpected structure: ";
    why += e.what();
    return KubeconfigErrors(file)(why);
  }
}

}  // namespace detail

core::Result<KubeConfig> loadKubeConfig(const std::optional<std::filesystem::path>& kubeconfig) {
  if (kubeconfig && !kubeconfig->empty()) {
    return parseKubeconfig(*kubeconfig);
  }
  if (const std::string list = envOr("KUBECONFIG"); !list.empty()) {
    // kubectl merges the list; we use its first existing file (documented).
    std::size_t start = 0;
    while (start <= list.size()) {
      const auto end = std::min(list.find(':', start), list.size());
      const std::string entry = list.substr(start, end - start);
      if (!entry.empty() && std::filesystem::exists(entry)) {
        return parseKubeconfig(entry);
      }
      start = end + 1;
    }
    std::string message = "KUBECONFIG ";
    message += inQuotes(list);
    message += ": no such file";
    return core::Error{message};
  }
  if (const std::string home = envOr("HOME"); !home.empty()) {
    const std::filesystem::path file = std::filesystem::path(home) / ".kube" / "config";
    if (std::filesystem::exists(file)) {
      return parseKubeconfig(file);
    }
  }
  return inCluster();
}

}  // namespace kubeai::kube
