#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

// A Kubernetes label selector in kubectl's `-l` syntax, parsed by the rules
// of k8s.io/apimachinery's labels.Parse: serve --policy-selector sends its
// canonical text as the policy list's and watch's labelSelector (the API
// server selects), and validate matches a policy's labels with it. Pure: no
// I/O, no allocation beyond the requirements.
namespace kubeai::kube {

struct LabelRequirement {
  enum class Operator {
    kEquals,        // a=b
    kDoubleEquals,  // a==b
    kNotEquals,     // a!=b: also true when the label is absent
    kIn,            // a in (x,y)
    kNotIn,         // a notin (x): also true when the label is absent
    kExists,        // a
    kDoesNotExist,  // !a
    kGreaterThan,   // a>1: the label's value read as an integer
    kLessThan,      // a<1
  };

  std::string key;
  Operator op = Operator::kExists;
  std::vector<std::string> values;  // sorted, without duplicates

  // As labels.Requirement.String() writes it: "a=b", "a in (x,y)", "!a".
  [[nodiscard]] std::string text() const;
};

class LabelSelector {
 public:
  // Everything (the empty selector).
  LabelSelector() = default;

  // The requirements joined by ',' (AND). An empty or blank text selects
  // everything. Errors name the term ("term 2, \"tier in (a\": expected ')'")
  // and what was wrong with it, as labels.Parse's do; the caller adds the flag.
  static core::Result<LabelSelector> parse(std::string_view text);

  [[nodiscard]] bool matches(const std::map<std::string, std::string>& labels) const;
  [[nodiscard]] bool empty() const noexcept { return requirements_.empty(); }
  // labels.Selector.String(): the requirements sorted by key, values sorted,
  // joined by ','; "" for the empty selector. What serve sends as
  // labelSelector and what it says in its logs and the shard's name.
  [[nodiscard]] const std::string& text() const noexcept { return text_; }
  [[nodiscard]] const std::vector<LabelRequirement>& requirements() const noexcept { return requirements_; }

 private:
  std::vector<LabelRequirement> requirements_;
  std::string text_;
};

// A label key: an optional DNS subdomain prefix and '/', then a name of at
// most 63 characters, alphanumeric at both ends, with '-', '_' and '.' within
// (validation.IsQualifiedName). Empty when valid, else why not.
[[nodiscard]] std::string labelKeyProblem(std::string_view key);
// A label value: empty, or as a key's name part (validation.IsValidLabelValue).
[[nodiscard]] std::string labelValueProblem(std::string_view value);
// A DNS-1123 label (a namespace, a shard's name): at most 63 lowercase
// alphanumerics and '-', alphanumeric at both ends.
[[nodiscard]] std::string dns1123LabelProblem(std::string_view name);

}  // namespace kubeai::kube
