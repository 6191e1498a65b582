#include "kube/target_decoding.h"

#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <utility>

#include "kube/watch_decoding.h"

namespace kubeai::kube::detail {
namespace {

using json = nlohmann::json;

// Joins with +=: GCC 12 warns falsely (-Wrestrict) on "literal" + std::string.
template <typename... Parts>
std::string concat(const Parts&... parts) {
  std::string out;
  ((out += parts), ...);
  return out;
}

// A replica count as read: absent (or null), an int32 >= 0, or anything else
// with its text for the message.
struct Count {
  bool present = false;
  bool good = false;
  std::int32_t value = 0;
  std::string text;
};

// Where a value sits, as far as decoding cares: the containers on the way to
// the fields kept. Everything else (the pod template, managedFields, labels)
// is kOther, and nothing below it is looked at.
enum class Ctx { kTop, kItems, kObject, kMeta, kSpec, kStatus, kListMeta, kOther };

// What the value at the current position is.
enum class Slot {
  kNone, kType, kKind, kObject, kItems, kItem, kListMeta, kListRv, kListContinue,
  kMeta, kName, kNamespace, kRv, kSpec, kStatus, kReplicas, kReady,
};

// The SAX handler: keeps the fields of each object and of the envelope (a
// list page's metadata, a watch event's type), and drops the rest as it is
// read. Its depth is bounded as parseBounded's is, though it recurses
// nowhere: what it accepts, the policy watcher's reading would too.
class TargetSax {
 public:
  enum class Mode { kList, kWatch };

  TargetSax(Mode mode, std::string_view kind) : mode_(mode), kind_(kind) {}

  bool null() { return scalar("null", [](Count&) {}); }
  bool boolean(bool value) {
    return scalar("boolean", [value](Count& count) { count.text = value ? "true" : "false"; });
  }
  bool number_integer(json::number_integer_t value) {
    // Only negative integers arrive here; the others are number_unsigned.
    return scalar("number", [value](Count& count) { count.text = std::to_string(value); });
  }
  bool number_unsigned(json::number_unsigned_t value) {
    return scalar("number", [value](Count& count) {
      if (value <= static_cast<json::number_unsigned_t>(std::numeric_limits<std::int32_t>::max())) {
        count.good = true;
        count.value = static_cast<std::int32_t>(value);
      } else {
        count.text = std::to_string(value);
      }
    });
  }
  bool number_float(json::number_float_t /*value*/, const json::string_t& text) {
    return scalar("number", [&text](Count& count) { count.text = text; });
  }
  bool string(json::string_t& value) {
    const Slot slot = slotOf();
    switch (slot) {
      case Slot::kType:
        type_ = value;
        typeSeen_ = true;
        return true;
      case Slot::kKind:
        envelopeKind_ = value;
        return true;
      case Slot::kListRv:
        listRv_ = value;
        return true;
      case Slot::kListContinue:
        listContinue_ = value;
        return true;
      case Slot::kName:
        current_.name = value;
        return true;
      case Slot::kNamespace:
        current_.ns = value;
        return true;
      case Slot::kRv:
        current_.resourceVersion = value;
        return true;
      default:
        break;
    }
    return scalar("string", [&value](Count& count) {
      count.text = json(value).dump(-1, ' ', false, json::error_handler_t::replace);
    });
  }
  bool binary(json::binary_t& /*value*/) { return scalar("binary", [](Count& count) { count.text = "binary"; }); }

  bool start_object(std::size_t /*elements*/) { return open(false); }
  bool start_array(std::size_t /*elements*/) { return open(true); }
  bool end_object() { return close(); }
  bool end_array() { return close(); }
  bool key(json::string_t& name) {
    // Only where a kept field may follow: the keys of the pod template and
    // of managedFields are not copied.
    if (!stack_.empty() && stack_.back() != Ctx::kOther && stack_.back() != Ctx::kItems) {
      key_ = name;
    }
    return true;
  }
  bool parse_error(std::size_t /*position*/, const std::string& /*token*/, const nlohmann::detail::exception& /*error*/) {
    notJson_ = true;
    return false;
  }

  // After the parse: why the text is refused, or nothing.
  [[nodiscard]] std::optional<std::string> refusal() const {
    if (tooDeep_) {
      return concat("nested deeper than ", std::to_string(kMaxJsonDepth), " levels");
    }
    if (notJson_) {
      return std::string("not JSON");
    }
    if (!topType_.empty()) {
      return concat("not a JSON object, got ", topType_);
    }
    return std::nullopt;
  }

  Mode mode_;
  std::string_view kind_;
  // The envelope.
  std::string type_;
  bool typeSeen_ = false;
  std::string typeProblem_;  // the type field's JSON type when not a string
  std::string envelopeKind_;
  bool objectSeen_ = false;  // watch: an "object" that is an object
  std::string pageProblem_;  // list: what is wrong with the page's shape
  std::string listRv_;
  std::string listContinue_;
  std::string topType_;  // set when the text is not an object
  bool tooDeep_ = false;
  bool notJson_ = false;
  // The objects, finished.
  std::vector<DecodedTarget> items_;

 private:
  // The object being read, and how its counts went.
  struct Current {
    std::string ns;
    std::string name;
    std::string resourceVersion;
    bool specObject = false;
    bool statusBad = false;
    Count replicas;
    Count ready;
  };

  [[nodiscard]] Slot slotOf() const {
    if (stack_.empty()) {
      return Slot::kNone;
    }
    const std::string& k = key_;
    switch (stack_.back()) {
      case Ctx::kTop:
        if (mode_ == Mode::kWatch) {
          return k == "type" ? Slot::kType : k == "kind" ? Slot::kKind : k == "object" ? Slot::kObject : Slot::kNone;
        }
        return k == "items" ? Slot::kItems : k == "metadata" ? Slot::kListMeta : Slot::kNone;
      case Ctx::kItems:
        return Slot::kItem;
      case Ctx::kListMeta:
        return k == "resourceVersion" ? Slot::kListRv : k == "continue" ? Slot::kListContinue : Slot::kNone;
      case Ctx::kObject:
        return k == "metadata" ? Slot::kMeta : k == "spec" ? Slot::kSpec : k == "status" ? Slot::kStatus : Slot::kNone;
      case Ctx::kMeta:
        return k == "name" ? Slot::kName : k == "namespace" ? Slot::kNamespace : k == "resourceVersion" ? Slot::kRv
                                                                                                        : Slot::kNone;
      case Ctx::kSpec:
        return k == "replicas" ? Slot::kReplicas : Slot::kNone;
      case Ctx::kStatus:
        return k == "readyReplicas" ? Slot::kReady : Slot::kNone;
      case Ctx::kOther:
        return Slot::kNone;
    }
    return Slot::kNone;
  }

  // A value that is not a container (`typeName` as json's type_name() says
  // it), or a container where a count or the envelope wants a scalar: what
  // it means in its slot. `fill` describes it as a count.
  template <typename Fill>
  bool scalar(std::string_view typeName, Fill fill) {
    if (stack_.empty()) {
      topType_ = typeName;  // a bare value: not an object
      return true;
    }
    const bool isNull = typeName == "null";
    switch (slotOf()) {
      case Slot::kType:
        typeSeen_ = true;
        typeProblem_ = concat("a ", typeName);
        break;
      case Slot::kItems:
      case Slot::kListMeta:
        if (!isNull && pageProblem_.empty()) {
          pageProblem_ = concat(key_ == "items" ? "items: must be a list, got " : "metadata: must be an object, got ",
                                typeName);
        }
        break;
      case Slot::kListRv:
      case Slot::kListContinue:
        if (!isNull && pageProblem_.empty()) {
          pageProblem_ = concat("metadata.", key_, ": must be a string, got ", typeName);
        }
        break;
      case Slot::kStatus:
        current_.statusBad = current_.statusBad || !isNull;
        break;
      case Slot::kReplicas:
      case Slot::kReady: {
        Count& count = slotOf() == Slot::kReplicas ? current_.replicas : current_.ready;
        count = Count{};
        count.present = !isNull;
        if (count.present) {
          fill(count);
        }
        break;
      }
      default:
        break;  // kSpec as a scalar leaves specObject false: "has no spec object"
    }
    return true;
  }

  bool open(bool array) {
    if (stack_.size() >= static_cast<std::size_t>(kMaxJsonDepth)) {
      tooDeep_ = true;
      return false;
    }
    if (stack_.empty()) {
      if (array) {
        topType_ = "array";
      }
      stack_.push_back(array ? Ctx::kOther : Ctx::kTop);
      return true;
    }
    const Slot slot = slotOf();
    Ctx child = Ctx::kOther;
    if (array) {
      if (slot == Slot::kItems) {
        child = Ctx::kItems;
      } else if (slot != Slot::kSpec && slot != Slot::kObject && slot != Slot::kItem && slot != Slot::kMeta) {
        scalar("array", [](Count& count) { count.text = "[...]"; });
      }
    } else {
      switch (slot) {
        case Slot::kObject:
        case Slot::kItem:
          child = Ctx::kObject;
          objectSeen_ = true;
          current_ = Current{};
          break;
        case Slot::kListMeta:
          child = Ctx::kListMeta;
          break;
        case Slot::kMeta:
          child = Ctx::kMeta;
          break;
        case Slot::kSpec:
          child = Ctx::kSpec;
          current_.specObject = true;
          break;
        case Slot::kStatus:
          child = Ctx::kStatus;
          break;
        case Slot::kNone:
          break;
        default:
          scalar("object", [](Count& count) { count.text = "{...}"; });
          break;
      }
    }
    stack_.push_back(child);
    key_.clear();
    return true;
  }

  bool close() {
    if (!stack_.empty() && stack_.back() == Ctx::kObject) {
      items_.push_back(finish());
    }
    if (!stack_.empty()) {
      stack_.pop_back();
    }
    key_.clear();  // the parent's next key comes before its next value
    return true;
  }

  // The object just read, its counts checked as parseWorkloadReplicas
  // (scale_object.h) checks a GET's.
  DecodedTarget finish() {
    DecodedTarget out{std::move(current_.ns), std::move(current_.name), std::move(current_.resourceVersion), {}};
    auto bad = [&](std::string_view path, const Count& count) {
      return concat("the ", kind_, "'s ", path, " ", count.text, " is not an integer from 0 to 2147483647");
    };
    if (!current_.specObject) {
      out.state.error = concat("the ", kind_, " has no spec object");
    } else if (current_.replicas.present && !current_.replicas.good) {
      out.state.error = bad("spec.replicas", current_.replicas);
    } else if (current_.statusBad) {
      out.state.error = concat("the ", kind_, "'s status is not an object");
    } else if (current_.ready.present && !current_.ready.good) {
      out.state.error = bad("status.readyReplicas", current_.ready);
    } else {
      out.state.replicas = current_.replicas.present ? current_.replicas.value : 1;
      out.state.ready = current_.ready.present ? current_.ready.value : 0;
    }
    current_ = Current{};
    return out;
  }

  std::vector<Ctx> stack_;
  std::string key_;  // the last key read in a context that keeps fields
  Current current_;
};

bool parse(std::string_view text, TargetSax& sax) {
  return json::sax_parse(text.begin(), text.end(), &sax, json::input_format_t::json, true, false);
}

}  // namespace

core::Result<TargetListPage> decodeTargetListPage(std::string_view body, std::string_view kind) {
  TargetSax sax(TargetSax::Mode::kList, kind);
  parse(body, sax);
  if (auto refused = sax.refusal()) {
    return core::Error{concat("the response is ", *refused)};
  }
  if (!sax.pageProblem_.empty()) {
    return core::Error{sax.pageProblem_};
  }
  return TargetListPage{std::move(sax.items_), std::move(sax.listRv_), std::move(sax.listContinue_)};
}

TargetWatchEvent decodeTargetWatchLine(std::string_view line, std::string_view kind) {
  TargetWatchEvent decoded;
  TargetSax sax(TargetSax::Mode::kWatch, kind);
  parse(line, sax);
  if (auto refused = sax.refusal()) {
    decoded.kind = TargetWatchEvent::Kind::kRefused;
    decoded.error = std::move(*refused);
    return decoded;
  }
  // A failed watch's Status, or an ERROR event: small, and read as the
  // policy watcher reads it, with the same document-based decoder.
  if ((!sax.typeSeen_ && sax.envelopeKind_ == "Status") || (sax.typeProblem_.empty() && sax.type_ == "ERROR")) {
    WatchEvent event = decodeWatchLine(line);
    if (event.kind == WatchEvent::Kind::kStatus) {
      decoded.kind = TargetWatchEvent::Kind::kStatus;
      decoded.status = std::move(event.status);
      decoded.errorEvent = event.errorEvent;
      decoded.type = std::move(event.type);
      return decoded;
    }
  }
  if (!sax.typeSeen_ || !sax.typeProblem_.empty()) {
    decoded.kind = TargetWatchEvent::Kind::kNoType;
    decoded.error = sax.typeSeen_ ? sax.typeProblem_ : std::string("absent");
    return decoded;
  }
  decoded.type = sax.type_;
  if (!sax.objectSeen_ || sax.items_.empty()) {
    decoded.kind = TargetWatchEvent::Kind::kNoObject;
    return decoded;
  }
  decoded.target = std::move(sax.items_.front());
  decoded.resourceVersion = decoded.target.resourceVersion;
  if (decoded.type == "BOOKMARK") {
    decoded.kind = TargetWatchEvent::Kind::kBookmark;
    return decoded;
  }
  if (decoded.type != "ADDED" && decoded.type != "MODIFIED" && decoded.type != "DELETED") {
    decoded.kind = TargetWatchEvent::Kind::kUnknownType;
    return decoded;
  }
  decoded.kind = TargetWatchEvent::Kind::kChange;
  return decoded;
}

}  // namespace kubeai::kube::detail
