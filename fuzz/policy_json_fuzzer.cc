// Policies as the Kubernetes API serves them (JSON): policy::parsePolicyJsonText
// and policy::parsePolicyJson. Checks: nothing throws; every accepted policy
// validates; the text and the parsed-object entry points agree; the same text
// read as YAML (JSON is YAML) gives the same JSON, so a policy's meaning does
// not depend on whether it came from a file or from the API.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "policy/policy_parser.h"
#include "policy/yaml_documents.h"
#include "policy_check.h"

namespace {

bool hasLoneCarriageReturn(std::string_view text) {
  for (std::size_t at = text.find('\r'); at != std::string_view::npos; at = text.find('\r', at + 1)) {
    if (at + 1 == text.size() || text[at + 1] != '\n') {
      return true;
    }
  }
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const kubeai::policy::PolicyDocument document = kubeai::policy::parsePolicyJsonText(text);
  kubeai::fuzz::checkPolicyDocument(document);

  const nlohmann::json object = nlohmann::json::parse(text, nullptr, false);
  if (object.is_discarded()) {
    KUBEAI_FUZZ_CHECK(!document.ok(), std::string(text));
    return 0;
  }
  const kubeai::policy::PolicyDocument fromObject = kubeai::policy::parsePolicyJson(object);
  KUBEAI_FUZZ_CHECK(fromObject.errors == document.errors && fromObject.warnings == document.warnings,
                    std::string(text));

  // nlohmann stops reading at a NUL byte ("9\0garbage" is 9) where yaml-cpp
  // does not: no API answer carries one, and neither reading is the text's.
  // yaml-cpp takes a lone CR (no LF after it) for text, not a line break as
  // YAML has it: `{"a": 1,\r"b": 2}` has a key `\r"b"` (CRLF is read right).
  // Neither reaches a policy from the API, which is never read as YAML.
  if (text.find('\0') != std::string_view::npos || hasLoneCarriageReturn(text) ||
      !kubeai::fuzz::allFinite(object) || kubeai::fuzz::strictDump(object).empty()) {
    return 0;
  }
  const auto asYaml = kubeai::policy::parseYamlDocuments(text);
  if (!asYaml.ok() || asYaml.value().size() != 1 || !asYaml.value().front().ok()) {
    return 0;  // YAML refuses some JSON (a tab where YAML wants a space): refused, not misread
  }
  KUBEAI_FUZZ_CHECK(asYaml.value().front().value() == object,
                    std::string(text) + " -> " + kubeai::fuzz::strictDump(asYaml.value().front().value()));
  return 0;
}
