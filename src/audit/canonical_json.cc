#include "audit/canonical_json.h"

#include <algorithm>
#include <cstdint>
#include <exception>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "audit/timestamp.h"
#include "boost/json.hpp"
#include "common/status_macros.h"

namespace inkan::audit {
namespace {

// RFC 3629 well-formed UTF-8 (no overlong forms, surrogates or > U+10FFFF).
bool IsValidUtf8(absl::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  size_t n = s.size();
  size_t i = 0;
  while (i < n) {
    unsigned char c = p[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len;
    unsigned char lo = 0x80, hi = 0xbf;  // bounds for the second byte
    if (c >= 0xc2 && c <= 0xdf) {
      len = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
      len = 3;
      if (c == 0xe0) lo = 0xa0;  // overlong
      if (c == 0xed) hi = 0x9f;  // surrogates
    } else if (c >= 0xf0 && c <= 0xf4) {
      len = 4;
      if (c == 0xf0) lo = 0x90;  // overlong
      if (c == 0xf4) hi = 0x8f;  // > U+10FFFF
    } else {
      return false;
    }
    if (n - i < len) return false;
    if (p[i + 1] < lo || p[i + 1] > hi) return false;
    for (size_t k = 2; k < len; ++k) {
      if (p[i + k] < 0x80 || p[i + k] > 0xbf) return false;
    }
    i += len;
  }
  return true;
}

void AppendScalar(const std::variant<std::string, int64_t, bool>& value,
                  std::string& out, absl::Status& status) {
  if (const auto* s = std::get_if<std::string>(&value)) {
    status = AppendJsonString(*s, out);
  } else if (const auto* i = std::get_if<int64_t>(&value)) {
    absl::StrAppend(&out, *i);
  } else {
    out += std::get<bool>(value) ? "true" : "false";
  }
}

absl::string_view View(boost::json::string_view s) {
  return {s.data(), s.size()};
}

// Writes the canonical form of `v` (as boost parsed it) to `out`, or says why
// `v` is outside the subset. Keys must already be in order: sorting them here
// would hide the difference that the caller is looking for.
absl::Status WriteCanonical(const boost::json::value& v, std::string& out) {
  switch (v.kind()) {
    case boost::json::kind::object: {
      out.push_back('{');
      bool first = true;
      absl::string_view prev_key;
      for (const auto& member : v.get_object()) {
        absl::string_view key = View(member.key());
        if (!first) {
          if (!(prev_key < key)) {
            return absl::InvalidArgumentError(absl::StrCat(
                "keys out of order: \"", key, "\" after \"", prev_key, "\""));
          }
          out.push_back(',');
        }
        RETURN_IF_ERROR(AppendJsonString(key, out));
        out.push_back(':');
        RETURN_IF_ERROR(WriteCanonical(member.value(), out));
        prev_key = key;
        first = false;
      }
      out.push_back('}');
      return absl::OkStatus();
    }
    case boost::json::kind::string:
      return AppendJsonString(View(v.get_string()), out);
    case boost::json::kind::int64:
      absl::StrAppend(&out, v.get_int64());
      return absl::OkStatus();
    case boost::json::kind::uint64:
      return absl::InvalidArgumentError(
          absl::StrCat("integer ", v.get_uint64(), " is out of int64 range"));
    case boost::json::kind::double_:
      return absl::InvalidArgumentError(
          "a number is not an integer (no fractions or exponents)");
    case boost::json::kind::bool_:
      out += v.get_bool() ? "true" : "false";
      return absl::OkStatus();
    case boost::json::kind::null:
      return absl::InvalidArgumentError("null is not allowed");
    case boost::json::kind::array:
      return absl::InvalidArgumentError("arrays are not allowed");
  }
  return absl::InvalidArgumentError("unknown JSON value");
}

// Parses `text` and checks it is canonical. The Boost.JSON adapter: no
// exception leaves this function.
absl::StatusOr<boost::json::value> ParseCanonical(absl::string_view text) {
  try {
    boost::json::error_code ec;
    boost::json::parse_options options;
    options.max_depth = 32;
    boost::json::value v = boost::json::parse(
        boost::json::string_view(text.data(), text.size()), ec, {}, options);
    if (ec) {
      return absl::InvalidArgumentError(
          absl::StrCat("not valid JSON: ", ec.message()));
    }
    if (!v.is_object()) {
      return absl::InvalidArgumentError("not a JSON object");
    }
    std::string canonical;
    canonical.reserve(text.size());
    RETURN_IF_ERROR(WriteCanonical(v, canonical));
    if (canonical != text) {
      size_t at = std::mismatch(canonical.begin(), canonical.end(),
                                text.begin(), text.end())
                      .first -
                  canonical.begin();
      return absl::InvalidArgumentError(absl::StrCat(
          "differs from its canonical form at byte ", at,
          " (whitespace, escaping, number form or a duplicate key)"));
    }
    return v;
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("JSON parser failed: ", e.what()));
  }
}

absl::Status ValidateEnvelope(int64_t seq, absl::string_view time,
                              absl::string_view type) {
  if (seq < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("seq ", seq, " is not >= 1"));
  }
  if (type.empty()) return absl::InvalidArgumentError("type is empty");
  return ParseTimestamp(time).status();
}

}  // namespace

absl::Status AppendJsonString(absl::string_view s, std::string& out) {
  if (!IsValidUtf8(s)) {
    return absl::InvalidArgumentError("string is not valid UTF-8");
  }
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          out.push_back(kHex[c >> 4]);
          out.push_back(kHex[c & 0xf]);
        } else {
          out.push_back(ch);
        }
    }
  }
  out.push_back('"');
  return absl::OkStatus();
}

absl::StatusOr<std::string> CanonicalObject(absl::Span<const Field> fields) {
  std::vector<const Field*> sorted;
  sorted.reserve(fields.size());
  for (const Field& f : fields) sorted.push_back(&f);
  std::sort(sorted.begin(), sorted.end(),
            [](const Field* a, const Field* b) { return a->key < b->key; });
  std::string out = "{";
  for (size_t i = 0; i < sorted.size(); ++i) {
    if (i > 0) {
      if (sorted[i]->key == sorted[i - 1]->key) {
        return absl::InvalidArgumentError(
            absl::StrCat("duplicate key \"", sorted[i]->key, "\""));
      }
      out.push_back(',');
    }
    RETURN_IF_ERROR(AppendJsonString(sorted[i]->key, out));
    out.push_back(':');
    absl::Status status;
    AppendScalar(sorted[i]->value, out, status);
    RETURN_IF_ERROR(status);
  }
  out.push_back('}');
  return out;
}

absl::Status CheckCanonical(absl::string_view text) {
  return ParseCanonical(text).status();
}

absl::StatusOr<std::string> SerializeEntry(const Entry& entry) {
  RETURN_IF_ERROR(ValidateEnvelope(entry.seq, entry.time, entry.type));
  ASSIGN_OR_RETURN(std::string data, CanonicalObject(entry.data));
  // Keys in canonical order: data < seq < time < type.
  std::string out =
      absl::StrCat("{\"data\":", data, ",\"seq\":", entry.seq, ",\"time\":");
  RETURN_IF_ERROR(AppendJsonString(entry.time, out));
  out += ",\"type\":";
  RETURN_IF_ERROR(AppendJsonString(entry.type, out));
  out.push_back('}');
  return out;
}

absl::StatusOr<std::vector<Field>> ParseFlatObject(absl::string_view text) {
  ASSIGN_OR_RETURN(boost::json::value v, ParseCanonical(text));
  std::vector<Field> fields;
  for (const auto& member : v.get_object()) {
    Field f{std::string(View(member.key())), false};
    if (const auto* s = member.value().if_string()) {
      f.value = std::string(View(*s));
    } else if (const auto* i = member.value().if_int64()) {
      f.value = *i;
    } else if (const auto* b = member.value().if_bool()) {
      f.value = *b;
    } else {
      return absl::InvalidArgumentError(absl::StrCat(
          "field \"", f.key, "\" is not a string, integer or boolean"));
    }
    fields.push_back(std::move(f));
  }
  return fields;
}

absl::StatusOr<Entry> ParseEntry(absl::string_view text) {
  ASSIGN_OR_RETURN(boost::json::value v, ParseCanonical(text));
  try {
    Entry entry;
    bool has_data = false, has_seq = false, has_time = false, has_type = false;
    for (const auto& member : v.get_object()) {
      absl::string_view key = View(member.key());
      const boost::json::value& value = member.value();
      if (key == "data") {
        has_data = true;
        const boost::json::object* data = value.if_object();
        if (data == nullptr) {
          return absl::InvalidArgumentError("\"data\" is not an object");
        }
        for (const auto& field : *data) {
          Field f{std::string(View(field.key())), false};
          if (const auto* s = field.value().if_string()) {
            f.value = std::string(View(*s));
          } else if (const auto* i = field.value().if_int64()) {
            f.value = *i;
          } else if (const auto* b = field.value().if_bool()) {
            f.value = *b;
          } else {
            return absl::InvalidArgumentError(
                absl::StrCat("data field \"", f.key,
                             "\" is not a string, integer or boolean"));
          }
          entry.data.push_back(std::move(f));
        }
      } else if (key == "seq") {
        has_seq = true;
        const int64_t* seq = value.if_int64();
        if (seq == nullptr) {
          return absl::InvalidArgumentError("\"seq\" is not an integer");
        }
        entry.seq = *seq;
      } else if (key == "time" || key == "type") {
        const boost::json::string* s = value.if_string();
        if (s == nullptr) {
          return absl::InvalidArgumentError(
              absl::StrCat("\"", key, "\" is not a string"));
        }
        (key == "time" ? has_time : has_type) = true;
        (key == "time" ? entry.time : entry.type) = std::string(View(*s));
      } else {
        return absl::InvalidArgumentError(
            absl::StrCat("unexpected key \"", key, "\""));
      }
    }
    for (auto [present, name] :
         {std::pair{has_data, "data"}, std::pair{has_seq, "seq"},
          std::pair{has_time, "time"}, std::pair{has_type, "type"}}) {
      if (!present) {
        return absl::InvalidArgumentError(
            absl::StrCat("missing \"", name, "\""));
      }
    }
    RETURN_IF_ERROR(ValidateEnvelope(entry.seq, entry.time, entry.type));
    return entry;
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("JSON parser failed: ", e.what()));
  }
}

}  // namespace inkan::audit
