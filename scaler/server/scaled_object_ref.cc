#include "server/scaled_object_ref.h"

#include <algorithm>
#include <cstdint>
#include <vector>

#include "core/policy.h"
#include "core/validation.h"
#include "externalscaler.pb.h"

namespace kubeai::server {
namespace {

// The length of the well-formed UTF-8 sequence `s` starts with (RFC 3629: no
// overlong forms, no surrogates, nothing above U+10FFFF) and its code point;
// 0 when it does not start with one (including a sequence cut short).
std::size_t utf8Sequence(std::string_view s, char32_t& codePoint) noexcept {
  const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(s[i]); };
  const auto continuation = [&](std::size_t i) { return i < s.size() && (byte(i) & 0xC0U) == 0x80U; };
  const unsigned char b0 = byte(0);
  if (b0 < 0x80U) {
    codePoint = b0;
    return 1;
  }
  std::size_t length = 0;
  char32_t value = 0;
  if (b0 >= 0xC2U && b0 <= 0xDFU) {
    length = 2;
    value = b0 & 0x1FU;
  } else if (b0 >= 0xE0U && b0 <= 0xEFU) {
    length = 3;
    value = b0 & 0x0FU;
  } else if (b0 >= 0xF0U && b0 <= 0xF4U) {
    length = 4;
    value = b0 & 0x07U;
  } else {
    return 0;  // a continuation byte, an overlong lead (C0, C1) or F5..FF
  }
  for (std::size_t i = 1; i < length; ++i) {
    if (!continuation(i)) {
      return 0;
    }
    value = (value << 6U) | (byte(i) & 0x3FU);
  }
  const bool overlong = (length == 3 && value < 0x800) || (length == 4 && value < 0x10000);
  const bool surrogate = value >= 0xD800 && value <= 0xDFFF;
  if (overlong || surrogate || value > 0x10FFFF) {
    return 0;
  }
  codePoint = value;
  return length;
}

void appendHexByte(std::string& out, unsigned value) {
  constexpr std::string_view kHex = "0123456789abcdef";
  out += "\\x";
  out += kHex[(value >> 4U) & 0xFU];
  out += kHex[value & 0xFU];
}

std::string escape(std::string_view value, std::size_t maxBytes, bool quoting) {
  std::string out;
  const std::size_t limit = std::min(value.size(), maxBytes);
  out.reserve(limit + 8);
  std::size_t i = 0;
  while (i < limit) {
    char32_t codePoint = 0;
    // Decoding looks past `limit` only to tell a character cut by it from an
    // invalid one: a cut character ends the loop below, it is not "invalid".
    const std::size_t length = utf8Sequence(value.substr(i, std::min<std::size_t>(4, value.size() - i)), codePoint);
    if (length == 0) {
      appendHexByte(out, static_cast<unsigned char>(value[i]));
      ++i;
      continue;
    }
    if (i + length > limit) {
      break;
    }
    if (codePoint < 0x20 || codePoint == 0x7F || (codePoint >= 0x80 && codePoint <= 0x9F)) {
      // C0/C1 controls would let a value forge log lines.
      if (codePoint < 0x80) {
        appendHexByte(out, static_cast<unsigned>(codePoint));
      } else {
        for (std::size_t k = 0; k < length; ++k) {
          appendHexByte(out, static_cast<unsigned char>(value[i + k]));
        }
      }
    } else if (quoting && (codePoint == '"' || codePoint == '\\')) {
      out += '\\';
      out += static_cast<char>(codePoint);
    } else {
      out.append(value.substr(i, length));
    }
    i += length;
  }
  if (i < value.size()) {
    out += "\u2026";  // …
  }
  return out;
}

bool asciiEqualsIgnoreCase(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) {
    return false;
  }
  const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) {
      return false;
    }
  }
  return true;
}

// A metadata value, or "" when the key is absent.
const std::string& metadataValue(const externalscaler::ScaledObjectRef& ref, std::string_view key) {
  static const std::string kEmpty;
  const auto& metadata = ref.scalermetadata();
  const auto it = metadata.find(std::string(key));
  return it == metadata.end() ? kEmpty : it->second;
}

}  // namespace

std::string PolicyRef::metricName() const {
  std::string out(kMetricNamePrefix);
  out += name;
  return out;
}

std::string escapeForMessage(std::string_view value, std::size_t maxBytes) { return escape(value, maxBytes, false); }

std::string quoteForMessage(std::string_view value, std::size_t maxBytes) {
  // Appended piecewise: GCC 12 warns falsely (-Wrestrict) on "\"" + std::string.
  std::string out;
  out += '"';
  out += escape(value, maxBytes, true);
  out += '"';
  if (value.size() > maxBytes) {
    out += " (";
    out += std::to_string(value.size());
    out += " bytes)";
  }
  return out;
}

core::Result<PolicyRef> policyRefFrom(const externalscaler::ScaledObjectRef& ref) {
  // Where each value came from, so the message points at what to fix.
  const std::string& metadataName = metadataValue(ref, kPolicyNameKey);
  const bool nameFromMetadata = !metadataName.empty();
  const std::string& name = nameFromMetadata ? metadataName : ref.name();

  const std::string& metadataNamespace = metadataValue(ref, kPolicyNamespaceKey);
  const bool namespaceFromMetadata = !metadataNamespace.empty();
  const bool namespaceFromRef = !namespaceFromMetadata && !ref.namespace_().empty();
  static const std::string kDefaultNamespace = "default";
  const std::string& ns = namespaceFromMetadata ? metadataNamespace
                          : namespaceFromRef    ? ref.namespace_()
                                                : kDefaultNamespace;

  std::vector<std::string> problems;
  if (name.empty()) {
    problems.push_back("no policy name: neither scalerMetadata." + std::string(kPolicyNameKey) +
                       " nor the ScaledObject's name is set");
  } else if (!core::isDns1123Subdomain(name)) {
    // isDns1123Subdomain refuses anything over 253 bytes before looking at
    // it, so a huge value is cheap to refuse.
    problems.push_back("policy name " + quoteForMessage(name) +
                       (nameFromMetadata ? " from scalerMetadata." + std::string(kPolicyNameKey)
                                         : " from the ScaledObject's name (scalerMetadata." +
                                               std::string(kPolicyNameKey) + " not set)") +
                       " is not a valid Kubernetes name (a lowercase RFC 1123 subdomain: a-z, 0-9, '-' and '.', "
                       "at most 253 characters)");
  }
  if (!core::isDns1123Label(ns)) {
    problems.push_back("policy namespace " + quoteForMessage(ns) +
                       (namespaceFromMetadata ? " from scalerMetadata." + std::string(kPolicyNamespaceKey)
                                              : " from the ScaledObject's namespace (scalerMetadata." +
                                                    std::string(kPolicyNamespaceKey) + " not set)") +
                       " is not a valid namespace (a lowercase RFC 1123 label: a-z, 0-9 and '-', "
                       "at most 63 characters)");
  }
  if (!problems.empty()) {
    std::string message = "invalid scaler metadata: " + problems.front();
    for (std::size_t i = 1; i < problems.size(); ++i) {
      message += "; " + problems[i];
    }
    return core::Error{std::move(message)};
  }
  return PolicyRef{ns, name};
}

core::Status checkPolicyNamespace(const externalscaler::ScaledObjectRef& ref, const PolicyRef& policy,
                                  bool allowCrossNamespace) {
  const std::string_view scaledObjectNamespace =
      ref.namespace_().empty() ? std::string_view(core::kDefaultNamespace) : std::string_view(ref.namespace_());
  if (allowCrossNamespace || scaledObjectNamespace == policy.ns) {
    return core::Ok{};
  }
  // The ScaledObject's names come from KEDA unchecked: escaped, cut short.
  std::string message = "ScaledObject ";
  message += escapeForMessage(scaledObjectNamespace, kEchoedValueMaxBytes);
  message += '/';
  message += escapeForMessage(ref.name(), kEchoedValueMaxBytes);
  message += " may not use policy ";
  message += policy.display();
  message += ": policies of another namespace need serve ";
  message += kAllowCrossNamespaceFlag;
  return core::Error{std::move(message)};
}

bool metricNameMatches(std::string_view requested, std::string_view policyName) noexcept {
  const auto matches = [policyName](std::string_view candidate) {
    return candidate.size() == kMetricNamePrefix.size() + policyName.size() &&
           asciiEqualsIgnoreCase(candidate.substr(0, kMetricNamePrefix.size()), kMetricNamePrefix) &&
           asciiEqualsIgnoreCase(candidate.substr(kMetricNamePrefix.size()), policyName);
  };
  if (matches(requested)) {
    return true;
  }
  // KEDA's "s<trigger index>-" prefix: an 's' (any case), one or more digits, '-'.
  if (requested.size() < 3 || (requested[0] != 's' && requested[0] != 'S')) {
    return false;
  }
  std::size_t i = 1;
  while (i < requested.size() && requested[i] >= '0' && requested[i] <= '9') {
    ++i;
  }
  if (i == 1 || i >= requested.size() || requested[i] != '-') {
    return false;
  }
  return matches(requested.substr(i + 1));
}

}  // namespace kubeai::server
