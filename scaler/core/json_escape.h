#pragma once

#include <string>
#include <string_view>

namespace kubeai::core {

// `text` as inside a JSON string, without the quotes: quotes, backslashes and
// control characters escaped (\n, \r, \t, else \u00XX), so that a user's text
// stays on one line and a quote in it does not end it early. Messages that
// quote a user's value and simulate's JSON both write it so.
void appendJsonEscaped(std::string& out, std::string_view text);

// `text` with its control characters escaped as above, quotes and
// backslashes left: a plugin's own message, which may quote a user's value
// with a line end in it, kept on one line and otherwise as the plugin wrote it.
[[nodiscard]] std::string withControlCharactersEscaped(std::string_view text);

}  // namespace kubeai::core
