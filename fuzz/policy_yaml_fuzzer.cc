// Policy files (a policy directory, `validate`, `evaluate`): YAML, one or more
// documents, Lists unpacked: policy::parsePolicyYaml, over
// policy::parseYamlDocuments and yamlToJson. Checks: nothing throws; every
// accepted policy validates; every document as JSON, written out and read
// again as YAML, is the same JSON (JSON is YAML: what a manifest says does not
// depend on which of the two it was written in). Left out of that check: NaN
// and infinities (JSON has none), strings that are not UTF-8, and keys longer
// than YAML allows an implicit key.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "policy/policy_parser.h"
#include "policy/yaml_documents.h"
#include "policy_check.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const kubeai::policy::PolicyFile file = kubeai::policy::parsePolicyYaml(text);
  if (file.error) {
    KUBEAI_FUZZ_CHECK(file.policies.empty() && !file.error->message.empty(), file.error->message);
  }
  for (const auto& document : file.policies) {
    kubeai::fuzz::checkPolicyDocument(document);
  }

  const auto documents = kubeai::policy::parseYamlDocuments(text);
  KUBEAI_FUZZ_CHECK(documents.ok() == !file.error.has_value(), std::string(text));
  if (!documents.ok()) {
    return 0;
  }
  for (const auto& document : documents.value()) {
    if (!document.ok() || !kubeai::fuzz::allFinite(document.value()) || !kubeai::fuzz::keysFitYaml(document.value())) {
      continue;
    }
    const std::string json = kubeai::fuzz::strictDump(document.value());
    if (json.empty()) {
      continue;
    }
    const auto again = kubeai::policy::parseYamlDocuments(json);
    KUBEAI_FUZZ_CHECK(again.ok() && again.value().size() == 1 && again.value().front().ok(),
                      json + " -> " + (again.ok() ? std::string("not one document") : again.error().message));
    KUBEAI_FUZZ_CHECK(again.value().front().value() == document.value(),
                      json + " -> " + kubeai::fuzz::strictDump(again.value().front().value()));
  }
  return 0;
}
