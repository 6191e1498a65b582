#include "kube/label_selector.h"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <optional>
#include <set>
#include <utility>

namespace kubeai::kube {
namespace {

// Joins with +=: GCC 12 warns falsely (-Wrestrict) on "literal" + std::string.
template <typename... Parts>
std::string concat(const Parts&... parts) {
  std::string out;
  ((out += parts), ...);
  return out;
}

// labels.Parse's lexer (k8s.io/apimachinery/pkg/labels/selector.go): an
// identifier is any run of characters that are neither blank nor one of
// !=(),<> ; "in" and "notin" are keywords where an operator may stand, and
// identifiers where a key or value does.
enum class Token {
  kIdentifier,
  kDoesNotExist,  // !
  kEquals,        // =
  kDoubleEquals,  // ==
  kNotEquals,     // !=
  kGreater,       // >
  kLess,          // <
  kIn,
  kNotIn,
  kOpenPar,
  kClosedPar,
  kComma,
  kEnd,
};

struct Lexeme {
  Token token = Token::kEnd;
  std::string_view text;
  std::size_t offset = 0;
};

bool isBlank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }
bool isSpecial(char c) { return std::string_view("=!(),<>").find(c) != std::string_view::npos; }

std::optional<Token> specialToken(std::string_view text) {
  static constexpr std::pair<std::string_view, Token> kSymbols[] = {
      {"!", Token::kDoesNotExist}, {"!=", Token::kNotEquals}, {"(", Token::kOpenPar}, {")", Token::kClosedPar},
      {",", Token::kComma},        {"=", Token::kEquals},     {"==", Token::kDoubleEquals},
      {">", Token::kGreater},      {"<", Token::kLess},
  };
  for (const auto& [symbol, token] : kSymbols) {
    if (symbol == text) {
      return token;
    }
  }
  return std::nullopt;
}

std::vector<Lexeme> lex(std::string_view text) {
  std::vector<Lexeme> out;
  std::size_t i = 0;
  while (i < text.size()) {
    if (isBlank(text[i])) {
      ++i;
      continue;
    }
    const std::size_t start = i;
    if (isSpecial(text[i])) {
      // The longest symbol that is one ("!=", "=="), as the lexer's scan does.
      std::size_t end = i + 1;
      while (end < text.size() && isSpecial(text[end]) && specialToken(text.substr(start, end + 1 - start))) {
        ++end;
      }
      const std::string_view symbol = text.substr(start, end - start);
      out.push_back({*specialToken(symbol), symbol, start});
      i = end;
      continue;
    }
    while (i < text.size() && !isBlank(text[i]) && !isSpecial(text[i])) {
      ++i;
    }
    const std::string_view word = text.substr(start, i - start);
    const Token token = word == "in" ? Token::kIn : word == "notin" ? Token::kNotIn : Token::kIdentifier;
    out.push_back({token, word, start});
  }
  out.push_back({Token::kEnd, {}, text.size()});
  return out;
}

std::string shown(const Lexeme& lexeme) {
  return lexeme.token == Token::kEnd ? std::string("the end") : concat("'", std::string(lexeme.text), "'");
}

bool isAlphanumeric(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }

// ([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9], the name part of a qualified name.
bool isQualifiedNamePart(std::string_view text) {
  return !text.empty() && isAlphanumeric(text.front()) && isAlphanumeric(text.back()) &&
         std::all_of(text.begin(), text.end(),
                     [](char c) { return isAlphanumeric(c) || c == '-' || c == '_' || c == '.'; });
}

bool isLowerAlphanumeric(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

// [a-z0-9]([-a-z0-9]*[a-z0-9])?
bool isDns1123Label(std::string_view text) {
  return !text.empty() && text.size() <= 63 && isLowerAlphanumeric(text.front()) &&
         isLowerAlphanumeric(text.back()) &&
         std::all_of(text.begin(), text.end(), [](char c) { return isLowerAlphanumeric(c) || c == '-'; });
}

// Labels joined by '.', at most 253 characters.
bool isDns1123Subdomain(std::string_view text) {
  if (text.empty() || text.size() > 253) {
    return false;
  }
  std::size_t start = 0;
  while (true) {
    const std::size_t dot = text.find('.', start);
    const std::string_view label = text.substr(start, dot == std::string_view::npos ? dot : dot - start);
    // Each label as a DNS-1123 label, but the subdomain as a whole bounds the length.
    if (label.empty() || !isLowerAlphanumeric(label.front()) || !isLowerAlphanumeric(label.back()) ||
        !std::all_of(label.begin(), label.end(), [](char c) { return isLowerAlphanumeric(c) || c == '-'; })) {
      return false;
    }
    if (dot == std::string_view::npos) {
      return true;
    }
    start = dot + 1;
  }
}

constexpr std::string_view kNameRule =
    "at most 63 characters, alphanumeric at both ends, with '-', '_' or '.' within";

std::optional<std::int64_t> integer(std::string_view text) {
  std::int64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || text.empty()) {
    return std::nullopt;
  }
  return value;
}

std::string_view operatorText(LabelRequirement::Operator op) {
  using Op = LabelRequirement::Operator;
  switch (op) {
    case Op::kEquals: return "=";
    case Op::kDoubleEquals: return "==";
    case Op::kNotEquals: return "!=";
    case Op::kIn: return " in ";
    case Op::kNotIn: return " notin ";
    case Op::kGreaterThan: return ">";
    case Op::kLessThan: return "<";
    case Op::kExists:
    case Op::kDoesNotExist: return "";
  }
  return "";
}

class Parser {
 public:
  explicit Parser(std::string_view text) : text_(text), lexemes_(lex(text)) {}

  core::Result<std::vector<LabelRequirement>> parse() {
    std::vector<LabelRequirement> requirements;
    while (true) {
      termStart_ = peek().offset;
      ++term_;
      const Token next = peekValue();
      if (next == Token::kEnd && requirements.empty()) {
        return requirements;  // "" selects everything
      }
      if (next != Token::kIdentifier && next != Token::kDoesNotExist) {
        return fail(concat("found ", shown(peek()), ", expected: '!' or a label key"));
      }
      auto requirement = parseRequirement();
      if (!requirement.ok()) {
        return requirement.error();
      }
      requirements.push_back(std::move(requirement).value());
      const Lexeme after = take();
      if (after.token == Token::kEnd) {
        return requirements;
      }
      if (after.token != Token::kComma) {
        return fail(concat("found ", shown(after), ", expected: ',' or the end"));
      }
      if (peekValue() != Token::kIdentifier && peekValue() != Token::kDoesNotExist) {
        termStart_ = peek().offset;
        ++term_;
        return fail(concat("found ", shown(peek()), " after ',', expected: '!' or a label key"));
      }
    }
  }

 private:
  using Op = LabelRequirement::Operator;

  const Lexeme& peek() const { return lexemes_[at_]; }
  // Where a key or value may stand, the keywords are identifiers.
  Token peekValue() const {
    const Token token = peek().token;
    return token == Token::kIn || token == Token::kNotIn ? Token::kIdentifier : token;
  }
  Lexeme take() {
    const Lexeme lexeme = lexemes_[at_];
    if (lexeme.token != Token::kEnd) {
      ++at_;
    }
    return lexeme;
  }
  Lexeme takeValue() {
    Lexeme lexeme = take();
    if (lexeme.token == Token::kIn || lexeme.token == Token::kNotIn) {
      lexeme.token = Token::kIdentifier;
    }
    return lexeme;
  }

  // The term being parsed, from its start to the next ',' outside
  // parentheses: what the message quotes.
  [[nodiscard]] std::string termText() const {
    int depth = 0;
    std::size_t end = termStart_;
    for (; end < text_.size(); ++end) {
      const char c = text_[end];
      if (c == '(') {
        ++depth;
      } else if (c == ')') {
        depth = std::max(depth - 1, 0);
      } else if (c == ',' && depth == 0) {
        break;
      }
    }
    std::string_view term = text_.substr(termStart_, end - termStart_);
    while (!term.empty() && isBlank(term.back())) {
      term.remove_suffix(1);
    }
    return std::string(term);
  }

  core::Error fail(const std::string& problem) const {
    return core::Error{concat("term ", std::to_string(term_), " \"", termText(), "\": ", problem)};
  }

  core::Result<LabelRequirement> parseRequirement() {
    LabelRequirement requirement;
    bool negated = false;
    Lexeme key = takeValue();
    if (key.token == Token::kDoesNotExist) {
      negated = true;
      key = takeValue();
    }
    if (key.token != Token::kIdentifier) {
      return fail(concat("found ", shown(key), ", expected: a label key"));
    }
    requirement.key = std::string(key.text);
    if (std::string problem = labelKeyProblem(key.text); !problem.empty()) {
      return fail(concat("key \"", requirement.key, "\": ", problem));
    }
    if (negated || peekValue() == Token::kEnd || peekValue() == Token::kComma) {
      // "!a" ends there: "!a=b" is refused by the caller, at the '='.
      requirement.op = negated ? Op::kDoesNotExist : Op::kExists;
      return requirement;
    }
    const Lexeme op = take();
    std::set<std::string> values;
    switch (op.token) {
      case Token::kEquals:
      case Token::kDoubleEquals:
      case Token::kNotEquals:
      case Token::kGreater:
      case Token::kLess: {
        requirement.op = op.token == Token::kEquals         ? Op::kEquals
                         : op.token == Token::kDoubleEquals ? Op::kDoubleEquals
                         : op.token == Token::kNotEquals    ? Op::kNotEquals
                         : op.token == Token::kGreater      ? Op::kGreaterThan
                                                            : Op::kLessThan;
        // "a=" is a = "" (an empty value is a value).
        if (peekValue() == Token::kEnd || peekValue() == Token::kComma) {
          values.insert("");
          break;
        }
        const Lexeme value = takeValue();
        if (value.token != Token::kIdentifier) {
          return fail(concat("found ", shown(value), ", expected: a value"));
        }
        values.insert(std::string(value.text));
        break;
      }
      case Token::kIn:
      case Token::kNotIn: {
        requirement.op = op.token == Token::kIn ? Op::kIn : Op::kNotIn;
        auto list = parseValues();
        if (!list.ok()) {
          return list.error();
        }
        values = std::move(list).value();
        break;
      }
      default:
        return fail(concat("found ", shown(op), ", expected: one of =, ==, !=, in, notin, >, <"));
    }
    requirement.values.assign(values.begin(), values.end());
    for (const std::string& value : requirement.values) {
      if (std::string problem = labelValueProblem(value); !problem.empty()) {
        return fail(concat("value \"", value, "\": ", problem));
      }
    }
    if ((requirement.op == Op::kGreaterThan || requirement.op == Op::kLessThan) && !integer(requirement.values[0])) {
      return fail(concat("value \"", requirement.values[0], "\": '", std::string(operatorText(requirement.op)),
                         "' needs an integer"));
    }
    return requirement;
  }

  // "(x,y)"; "()" and empty items are the empty value, as labels.Parse reads them.
  core::Result<std::set<std::string>> parseValues() {
    std::set<std::string> values;
    const Lexeme open = take();
    if (open.token != Token::kOpenPar) {
      return fail(concat("found ", shown(open), ", expected: '('"));
    }
    if (peekValue() == Token::kClosedPar) {
      take();
      values.insert("");
      return values;
    }
    bool expectValue = true;
    while (true) {
      const Lexeme item = takeValue();
      if (item.token == Token::kIdentifier && expectValue) {
        values.insert(std::string(item.text));
        expectValue = false;
      } else if (item.token == Token::kComma) {
        if (expectValue) {
          values.insert("");  // "(,a)", "(a,,b)"
        }
        expectValue = true;
      } else if (item.token == Token::kClosedPar) {
        if (expectValue) {
          values.insert("");  // "(a,)"
        }
        return values;
      } else {
        return fail(concat("found ", shown(item), expectValue ? ", expected: a value, ',' or ')'"
                                                                : ", expected: ',' or ')'"));
      }
    }
  }

  std::string_view text_;
  std::vector<Lexeme> lexemes_;
  std::size_t at_ = 0;
  std::size_t termStart_ = 0;
  int term_ = 0;
};

}  // namespace

std::string LabelRequirement::text() const {
  std::string out;
  if (op == Operator::kDoesNotExist) {
    out += '!';
  }
  out += key;
  out += operatorText(op);
  if (op == Operator::kExists || op == Operator::kDoesNotExist) {
    return out;
  }
  const bool set = op == Operator::kIn || op == Operator::kNotIn;
  if (set) {
    out += '(';
  }
  for (std::size_t i = 0; i < values.size(); ++i) {
    out += i == 0 ? "" : ",";
    out += values[i];
  }
  if (set) {
    out += ')';
  }
  return out;
}

core::Result<LabelSelector> LabelSelector::parse(std::string_view text) {
  auto requirements = Parser(text).parse();
  if (!requirements.ok()) {
    return requirements.error();
  }
  LabelSelector selector;
  selector.requirements_ = std::move(requirements).value();
  // labels.Parse sorts by key; stable, so that "a,!a" keeps its order.
  std::stable_sort(selector.requirements_.begin(), selector.requirements_.end(),
                   [](const LabelRequirement& a, const LabelRequirement& b) { return a.key < b.key; });
  for (const LabelRequirement& requirement : selector.requirements_) {
    selector.text_ += selector.text_.empty() ? "" : ",";
    selector.text_ += requirement.text();
  }
  return selector;
}

bool LabelSelector::matches(const std::map<std::string, std::string>& labels) const {
  using Op = LabelRequirement::Operator;
  return std::all_of(requirements_.begin(), requirements_.end(), [&](const LabelRequirement& requirement) {
    const auto found = labels.find(requirement.key);
    const bool has = found != labels.end();
    const auto listed = [&] {
      return has && std::binary_search(requirement.values.begin(), requirement.values.end(), found->second);
    };
    switch (requirement.op) {
      case Op::kEquals:
      case Op::kDoubleEquals:
      case Op::kIn: return listed();
      case Op::kNotEquals:
      case Op::kNotIn: return !listed();
      case Op::kExists: return has;
      case Op::kDoesNotExist: return !has;
      case Op::kGreaterThan:
      case Op::kLessThan: {
        const auto value = has ? integer(found->second) : std::nullopt;
        const auto bound = integer(requirement.values.front());
        if (!value || !bound) {
          return false;
        }
        return requirement.op == Op::kGreaterThan ? *value > *bound : *value < *bound;
      }
    }
    return false;
  });
}

std::string labelKeyProblem(std::string_view key) {
  const std::size_t slash = key.find('/');
  std::string_view name = key;
  if (slash != std::string_view::npos) {
    const std::string_view prefix = key.substr(0, slash);
    name = key.substr(slash + 1);
    if (name.find('/') != std::string_view::npos) {
      return "a label key is an optional prefix and '/', then a name: one '/' at most";
    }
    if (prefix.empty()) {
      return "the prefix before '/' must not be empty";
    }
    if (!isDns1123Subdomain(prefix)) {
      return "the prefix before '/' must be a DNS subdomain (at most 253 lowercase alphanumerics, '-' and '.', "
             "alphanumeric at both ends of each part)";
    }
  }
  if (name.empty()) {
    return "the name must not be empty";
  }
  if (name.size() > 63 || !isQualifiedNamePart(name)) {
    return concat("the name must be ", std::string(kNameRule));
  }
  return {};
}

std::string labelValueProblem(std::string_view value) {
  if (value.empty()) {
    return {};
  }
  if (value.size() > 63 || !isQualifiedNamePart(value)) {
    return concat("a label value must be empty or ", std::string(kNameRule));
  }
  return {};
}

std::string dns1123LabelProblem(std::string_view name) {
  if (isDns1123Label(name)) {
    return {};
  }
  return "must be at most 63 lowercase alphanumerics or '-', alphanumeric at both ends";
}

}  // namespace kubeai::kube
