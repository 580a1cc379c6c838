#include "api/csc_codec.h"

#include <openssl/asn1.h>
#include <openssl/crypto.h>
#include <openssl/objects.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <algorithm>
#include <boost/container/pmr/memory_resource.hpp>
#include <boost/json.hpp>
#include <boost/json/basic_parser_impl.hpp>
#include <cstring>
#include <exception>
#include <map>
#include <memory>
#include <new>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/cord.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "common/status_macros.h"

namespace inkan::api::csc {
namespace {

namespace json = boost::json;
using crypto::HashAlgorithm;
using crypto::KeyAlgorithm;

// ---------------------------------------------------------------------------
// UTF-8
// ---------------------------------------------------------------------------

// Length of the well-formed UTF-8 sequence (RFC 3629: no overlong forms,
// surrogates or code points above U+10FFFF) at s[i], or 0.
size_t Utf8SequenceLength(absl::string_view s, size_t i) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  unsigned char c = p[i];
  if (c < 0x80) return 1;
  size_t len;
  unsigned char lo = 0x80, hi = 0xbf;
  if (c >= 0xc2 && c <= 0xdf) {
    len = 2;
  } else if (c >= 0xe0 && c <= 0xef) {
    len = 3;
    if (c == 0xe0) lo = 0xa0;
    if (c == 0xed) hi = 0x9f;
  } else if (c >= 0xf0 && c <= 0xf4) {
    len = 4;
    if (c == 0xf0) lo = 0x90;
    if (c == 0xf4) hi = 0x8f;
  } else {
    return 0;
  }
  if (s.size() - i < len) return 0;
  if (p[i + 1] < lo || p[i + 1] > hi) return 0;
  for (size_t k = 2; k < len; ++k) {
    if (p[i + k] < 0x80 || p[i + k] > 0xbf) return 0;
  }
  return len;
}

// The number of code points, or nullopt if `s` is not UTF-8.
std::optional<size_t> Utf8Length(absl::string_view s) {
  size_t count = 0;
  for (size_t i = 0; i < s.size();) {
    size_t n = Utf8SequenceLength(s, i);
    if (n == 0) return std::nullopt;
    i += n;
    ++count;
  }
  return count;
}

// `s` with every byte that is not part of a UTF-8 sequence replaced by '?'.
std::string SanitizeUtf8(absl::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    size_t n = Utf8SequenceLength(s, i);
    if (n == 0) {
      out.push_back('?');
      ++i;
    } else {
      out.append(s.data() + i, n);
      i += n;
    }
  }
  return out;
}

bool HasControl(absl::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7f;
  });
}

// Digits separated by single dots, as an OID is written.
bool LooksLikeOid(absl::string_view s) {
  if (s.empty() || s.size() > kMaxOidBytes) return false;
  bool prev_dot = true;
  for (char c : s) {
    if (c == '.') {
      if (prev_dot) return false;
      prev_dot = true;
    } else if (absl::ascii_isdigit(static_cast<unsigned char>(c))) {
      prev_dot = false;
    } else {
      return false;
    }
  }
  return !prev_dot;
}

// A parameter name as it may appear in an error description: the name if it
// is short and plain, else a placeholder (unknown names come from clients).
std::string EchoName(absl::string_view name) {
  bool plain = !name.empty() && name.size() <= 64 &&
               std::all_of(name.begin(), name.end(), [](char c) {
                 return absl::ascii_isalnum(static_cast<unsigned char>(c)) ||
                        c == '_' || c == '-' || c == '.';
               });
  return plain ? std::string(name) : std::string("(unprintable name)");
}

// ---------------------------------------------------------------------------
// Base64
// ---------------------------------------------------------------------------

bool IsBase64Char(char c, bool url) {
  if (absl::ascii_isalnum(static_cast<unsigned char>(c))) return true;
  return url ? (c == '-' || c == '_') : (c == '+' || c == '/');
}

// RFC 4648 §4, padded, canonical (re-encoding gives the same text).
std::optional<std::string> DecodeStdBase64(absl::string_view s) {
  if (s.empty() || s.size() % 4 != 0) return std::nullopt;
  size_t pad = 0;
  while (pad < 2 && pad < s.size() && s[s.size() - 1 - pad] == '=') ++pad;
  for (size_t i = 0; i < s.size() - pad; ++i) {
    if (!IsBase64Char(s[i], /*url=*/false)) return std::nullopt;
  }
  std::string out;
  if (!absl::Base64Unescape(s, &out)) return std::nullopt;
  if (absl::Base64Escape(out) != s) return std::nullopt;
  return out;
}

// RFC 4648 §5, padded or not, canonical.
std::optional<std::string> DecodeBase64Url(absl::string_view s) {
  absl::string_view core = s;
  if (!s.empty() && s.back() == '=') {
    if (s.size() % 4 != 0) return std::nullopt;
    size_t pad = 0;
    while (pad < 2 && core.size() > 0 && core.back() == '=') {
      core.remove_suffix(1);
      ++pad;
    }
  }
  if (core.empty() || core.size() % 4 == 1) return std::nullopt;
  for (char c : core) {
    if (!IsBase64Char(c, /*url=*/true)) return std::nullopt;
  }
  std::string out;
  if (!absl::WebSafeBase64Unescape(core, &out)) return std::nullopt;
  if (absl::WebSafeBase64Escape(out) != core) return std::nullopt;
  return out;
}

// ---------------------------------------------------------------------------
// Error statuses
// ---------------------------------------------------------------------------

constexpr absl::string_view kPayloadUrl = "type.inkan/csc_error";

CscError MakeError(int http_status, absl::string_view error,
                   absl::string_view description) {
  return CscError{http_status, std::string(error), std::string(description)};
}

absl::Status Invalid(absl::string_view description) {
  return ToStatus(InvalidRequest(description));
}

// "Missing (or invalid type) <type> parameter <name>" (§3.6, §3.11).
absl::Status MissingOrWrongType(absl::string_view type,
                                absl::string_view name) {
  return Invalid(
      absl::StrCat("Missing (or invalid type) ", type, " parameter ", name));
}

// "Invalid parameter <name>[: <why>]".
absl::Status BadParam(absl::string_view name, absl::string_view why = "") {
  if (why.empty()) return Invalid(absl::StrCat("Invalid parameter ", name));
  return Invalid(absl::StrCat("Invalid parameter ", name, ": ", why));
}

// "Missing parameter <name>" (the OAuth endpoints, §3.3).
absl::Status MissingParam(absl::string_view name) {
  return Invalid(absl::StrCat("Missing parameter ", name));
}

// ---------------------------------------------------------------------------
// Text rules
// ---------------------------------------------------------------------------

struct TextRule {
  size_t max_bytes;
  size_t max_chars = 0;  // 0: no limit beyond max_bytes
  bool allow_control = false;
  bool allow_empty = false;
};

constexpr TextRule kIdRule{kMaxIdBytes};
constexpr TextRule kTokenRule{kMaxTokenBytes};
constexpr TextRule kClientDataRule{kMaxClientDataBytes, 0, true, true};
constexpr TextRule kDescriptionRule{4 * kMaxDescriptionChars,
                                    kMaxDescriptionChars};
constexpr TextRule kOidRule{kMaxOidBytes};
constexpr TextRule kUriRule{kMaxUriBytes};
constexpr TextRule kAuthValueRule{kMaxAuthDataValueBytes};
constexpr TextRule kLangRule{35};

absl::Status CheckText(absl::string_view name, absl::string_view s,
                       const TextRule& rule) {
  if (s.empty() && !rule.allow_empty) return BadParam(name, "empty");
  if (s.size() > rule.max_bytes) {
    return BadParam(name,
                    absl::StrCat("longer than ", rule.max_bytes, " bytes"));
  }
  std::optional<size_t> chars = Utf8Length(s);
  if (!chars) return BadParam(name, "not UTF-8");
  if (rule.max_chars != 0 && *chars > rule.max_chars) {
    return BadParam(
        name, absl::StrCat("longer than ", rule.max_chars, " characters"));
  }
  if (!rule.allow_control && HasControl(s)) {
    return BadParam(name, "contains a control character");
  }
  return absl::OkStatus();
}

// An RFC 5646-shaped tag: 2..8 letters, then subtags of 1..8 letters/digits.
absl::Status CheckLang(absl::string_view lang) {
  RETURN_IF_ERROR(CheckText("lang", lang, kLangRule));
  bool first = true;
  for (absl::string_view part : absl::StrSplit(lang, '-')) {
    bool ok = !part.empty() && part.size() <= 8;
    for (char c : part) {
      auto u = static_cast<unsigned char>(c);
      ok = ok && (first ? absl::ascii_isalpha(u) : absl::ascii_isalnum(u));
    }
    if (first && part.size() < 2) ok = false;
    if (!ok) return BadParam("lang", "not a language tag (RFC 5646)");
    first = false;
  }
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------
// JSON input
// ---------------------------------------------------------------------------

// Allocations for parsed requests are wiped when freed: they hold PINs,
// OTPs, SADs and tokens.
class WipingResource final : public boost::container::pmr::memory_resource {
 private:
  void* do_allocate(std::size_t bytes, std::size_t alignment) override {
    if (alignment <= __STDCPP_DEFAULT_NEW_ALIGNMENT__) {
      return ::operator new(bytes);
    }
    return ::operator new(bytes, std::align_val_t(alignment));
  }
  void do_deallocate(void* p, std::size_t bytes,
                     std::size_t alignment) override {
    OPENSSL_cleanse(p, bytes);
    if (alignment <= __STDCPP_DEFAULT_NEW_ALIGNMENT__) {
      ::operator delete(p, bytes);
    } else {
      ::operator delete(p, bytes, std::align_val_t(alignment));
    }
  }
  bool do_is_equal(const boost::container::pmr::memory_resource& other)
      const noexcept override {
    return this == &other;
  }
};

json::storage_ptr WipingStorage() {
  static WipingResource* const resource = new WipingResource;
  return json::storage_ptr(resource);
}

// A SAX handler that only notices an object member that repeats.
class DuplicateKeyHandler {
 public:
  static constexpr std::size_t max_object_size = std::size_t(-1);
  static constexpr std::size_t max_array_size = std::size_t(-1);
  static constexpr std::size_t max_key_size = std::size_t(-1);
  static constexpr std::size_t max_string_size = std::size_t(-1);

  const std::string& duplicate() const { return duplicate_; }

  bool on_document_begin(json::error_code&) { return true; }
  bool on_document_end(json::error_code&) { return true; }
  bool on_array_begin(json::error_code&) { return true; }
  bool on_array_end(std::size_t, json::error_code&) { return true; }
  bool on_object_begin(json::error_code&) {
    keys_.emplace_back();
    return true;
  }
  bool on_object_end(std::size_t, json::error_code&) {
    keys_.pop_back();
    return true;
  }
  bool on_string_part(json::string_view, std::size_t, json::error_code&) {
    return true;
  }
  bool on_string(json::string_view, std::size_t, json::error_code&) {
    return true;
  }
  bool on_key_part(json::string_view s, std::size_t, json::error_code&) {
    key_.append(s.data(), s.size());
    return true;
  }
  bool on_key(json::string_view s, std::size_t, json::error_code& ec) {
    key_.append(s.data(), s.size());
    if (!keys_.back().insert(key_).second) {
      duplicate_ = key_;
      ec = json::error::syntax;
      return false;
    }
    key_.clear();
    return true;
  }
  bool on_number_part(json::string_view, json::error_code&) { return true; }
  bool on_int64(int64_t, json::string_view, json::error_code&) { return true; }
  bool on_uint64(uint64_t, json::string_view, json::error_code&) {
    return true;
  }
  bool on_double(double, json::string_view, json::error_code&) { return true; }
  bool on_bool(bool, json::error_code&) { return true; }
  bool on_null(json::error_code&) { return true; }
  bool on_comment_part(json::string_view, json::error_code&) { return true; }
  bool on_comment(json::string_view, json::error_code&) { return true; }

 private:
  std::vector<std::set<std::string>> keys_;
  std::string key_;
  std::string duplicate_;
};

// The request body as a JSON object (an empty or all-blank body is {}).
absl::StatusOr<json::value> ParseJsonObject(absl::string_view body) {
  if (body.size() > kMaxBodyBytes) {
    return Invalid(
        absl::StrCat("Request body larger than ", kMaxBodyBytes, " bytes"));
  }
  if (absl::StripAsciiWhitespace(body).empty()) {
    return json::value(json::object(WipingStorage()));
  }
  json::parse_options options;  // strict: no comments, commas, bad UTF-8
  options.max_depth = 32;
  try {
    json::parser parser(WipingStorage(), options);
    parser.reset(WipingStorage());
    json::error_code ec;
    parser.write(body.data(), body.size(), ec);
    if (ec) {
      return Invalid(
          absl::StrCat("Malformed JSON request body: ", ec.message()));
    }
    json::value value = parser.release();
    if (!value.is_object()) {
      return Invalid("Malformed JSON request body: not a JSON object");
    }
    json::basic_parser<DuplicateKeyHandler> dup(options);
    dup.write_some(false, body.data(), body.size(), ec);
    if (!dup.handler().duplicate().empty()) {
      return Invalid(absl::StrCat("Repeated parameter ",
                                  EchoName(dup.handler().duplicate())));
    }
    if (ec) {
      return Invalid(
          absl::StrCat("Malformed JSON request body: ", ec.message()));
    }
    return value;
  } catch (const std::exception&) {
    return Invalid("Malformed JSON request body");
  }
}

absl::string_view View(json::string_view s) { return {s.data(), s.size()}; }

// The member, or nullptr if it is absent or null.
const json::value* Find(const json::object& o, absl::string_view name) {
  auto it = o.find(json::string_view(name.data(), name.size()));
  if (it == o.end() || it->value().is_null()) return nullptr;
  return &it->value();
}

absl::StatusOr<std::optional<std::string>> OptString(const json::object& o,
                                                     absl::string_view name,
                                                     const TextRule& rule) {
  const json::value* v = Find(o, name);
  if (v == nullptr) return std::nullopt;
  if (!v->is_string()) return MissingOrWrongType("string", name);
  absl::string_view s = View(v->get_string());
  RETURN_IF_ERROR(CheckText(name, s, rule));
  return std::string(s);
}

absl::StatusOr<std::string> ReqString(const json::object& o,
                                      absl::string_view name,
                                      const TextRule& rule) {
  ASSIGN_OR_RETURN(std::optional<std::string> s, OptString(o, name, rule));
  if (!s) return MissingOrWrongType("string", name);
  return std::move(*s);
}

absl::StatusOr<bool> OptBool(const json::object& o, absl::string_view name,
                             bool default_value) {
  const json::value* v = Find(o, name);
  if (v == nullptr) return default_value;
  if (!v->is_bool()) return MissingOrWrongType("boolean", name);
  return v->get_bool();
}

absl::StatusOr<std::optional<int64_t>> OptInteger(const json::object& o,
                                                  absl::string_view name) {
  const json::value* v = Find(o, name);
  if (v == nullptr) return std::nullopt;
  if (v->is_int64()) return v->get_int64();
  if (v->is_uint64()) return BadParam(name, "out of range");
  return MissingOrWrongType("integer", name);
}

absl::StatusOr<std::optional<std::string>> OptLang(const json::object& o) {
  ASSIGN_OR_RETURN(std::optional<std::string> lang,
                   OptString(o, "lang", kLangRule));
  if (lang) RETURN_IF_ERROR(CheckLang(*lang));
  return lang;
}

absl::StatusOr<std::optional<std::string>> OptClientData(
    const json::object& o) {
  return OptString(o, "clientData", kClientDataRule);
}

absl::StatusOr<CertificatesMode> OptCertificates(const json::object& o) {
  const json::value* v = Find(o, "certificates");
  if (v == nullptr) return CertificatesMode::kSingle;
  if (!v->is_string()) return MissingOrWrongType("string", "certificates");
  absl::string_view s = View(v->get_string());
  if (s == "none") return CertificatesMode::kNone;
  if (s == "single") return CertificatesMode::kSingle;
  if (s == "chain") return CertificatesMode::kChain;
  return BadParam("certificates", "use none, single or chain");
}

// numSignatures: 1..kMaxHashes.
absl::Status CheckNumSignatures(int64_t n) {
  if (n < 1) return Invalid("Invalid value for parameter numSignatures");
  if (n > static_cast<int64_t>(kMaxHashes)) {
    return ToStatus(TooManySignatures());
  }
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------
// Hash lists
// ---------------------------------------------------------------------------

// The base64 (std, or url for the authorize query) texts, decoded.
absl::StatusOr<std::vector<std::string>> DecodeHashes(
    const std::vector<absl::string_view>& encoded, bool url) {
  if (encoded.empty()) return Invalid("Empty hash array");
  if (encoded.size() > kMaxHashes) {
    return BadParam("hashes",
                    absl::StrCat("more than ", kMaxHashes, " hashes"));
  }
  std::vector<std::string> out;
  out.reserve(encoded.size());
  for (absl::string_view e : encoded) {
    std::optional<std::string> d =
        url ? DecodeBase64Url(e) : DecodeStdBase64(e);
    if (!d) return Invalid("Invalid Base64 hash string parameter");
    out.push_back(std::move(*d));
  }
  return out;
}

// Each digest as long as `hash` makes them, none twice.
absl::Status CheckDigests(const std::vector<std::string>& digests,
                          HashAlgorithm hash) {
  std::set<absl::string_view> seen;
  for (size_t i = 0; i < digests.size(); ++i) {
    if (digests[i].size() != crypto::DigestLength(hash)) {
      return Invalid("Invalid digest value length");
    }
    if (!seen.insert(digests[i]).second) {
      return BadParam("hashes",
                      absl::StrCat("entry ", i, " repeats an earlier hash"));
    }
  }
  return absl::OkStatus();
}

// A JSON `hashes` member: nullopt if absent.
absl::StatusOr<std::optional<std::vector<std::string>>> OptJsonHashes(
    const json::object& o) {
  const json::value* v = Find(o, "hashes");
  if (v == nullptr) return std::nullopt;
  if (!v->is_array()) return MissingOrWrongType("array", "hashes");
  const json::array& a = v->get_array();
  std::vector<absl::string_view> encoded;
  encoded.reserve(a.size());
  for (size_t i = 0; i < a.size(); ++i) {
    if (!a[i].is_string()) {
      return BadParam("hashes", absl::StrCat("entry ", i, " is not a string"));
    }
    encoded.push_back(View(a[i].get_string()));
  }
  return DecodeHashes(encoded, /*url=*/false);
}

// ---------------------------------------------------------------------------
// RSASSA-PSS-params
// ---------------------------------------------------------------------------

struct PssParamsDeleter {
  void operator()(RSA_PSS_PARAMS* p) const { RSA_PSS_PARAMS_free(p); }
};
struct AlgorDeleter {
  void operator()(X509_ALGOR* p) const { X509_ALGOR_free(p); }
};

// The hash an AlgorithmIdentifier names; its parameters must be absent or
// NULL. `field` names the part for errors.
absl::StatusOr<HashAlgorithm> PssHash(const X509_ALGOR* alg,
                                      absl::string_view field) {
  const ASN1_OBJECT* obj = nullptr;
  int ptype = V_ASN1_UNDEF;
  const void* pval = nullptr;
  X509_ALGOR_get0(&obj, &ptype, &pval, alg);
  if (ptype != V_ASN1_UNDEF && ptype != V_ASN1_NULL) {
    return BadParam("signAlgoParams",
                    absl::StrCat(field, " has unexpected parameters"));
  }
  switch (OBJ_obj2nid(obj)) {
    case NID_sha256:
      return HashAlgorithm::kSha256;
    case NID_sha384:
      return HashAlgorithm::kSha384;
    case NID_sha512:
      return HashAlgorithm::kSha512;
    case NID_sha1:
      return BadParam("signAlgoParams",
                      absl::StrCat(field, " is SHA-1, which is not accepted"));
    default:
      return BadParam("signAlgoParams",
                      absl::StrCat(field,
                                   " is not SHA-256, SHA-384 or "
                                   "SHA-512"));
  }
}

// The message hash of DER RSASSA-PSS-params (RFC 8017 A.2.3), which must use
// MGF1 with that same hash, a salt as long as the hash, and trailerField 1.
// Absent fields take their ASN.1 defaults (SHA-1, MGF1-SHA-1, 20), which are
// refused.
absl::StatusOr<HashAlgorithm> ParsePssParams(absl::string_view der) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  const unsigned char* const end = p + der.size();
  std::unique_ptr<RSA_PSS_PARAMS, PssParamsDeleter> params(
      d2i_RSA_PSS_PARAMS(nullptr, &p, static_cast<long>(der.size())));
  bool der_ok = params != nullptr && p == end;
  if (der_ok) {
    unsigned char* again = nullptr;
    int n = i2d_RSA_PSS_PARAMS(params.get(), &again);
    der_ok = n > 0 && static_cast<size_t>(n) == der.size() &&
             std::memcmp(der.data(), again, der.size()) == 0;
    OPENSSL_free(again);
  }
  if (!der_ok) {
    return BadParam("signAlgoParams", "not DER RSASSA-PSS-params");
  }
  if (params->hashAlgorithm == nullptr) {
    return BadParam("signAlgoParams",
                    "hashAlgorithm is absent, so SHA-1, which is not "
                    "accepted");
  }
  ASSIGN_OR_RETURN(HashAlgorithm hash,
                   PssHash(params->hashAlgorithm, "hashAlgorithm"));
  if (params->maskGenAlgorithm == nullptr) {
    return BadParam("signAlgoParams",
                    "maskGenAlgorithm is absent, so MGF1 with SHA-1, which is "
                    "not accepted");
  }
  const ASN1_OBJECT* mgf_obj = nullptr;
  X509_ALGOR_get0(&mgf_obj, nullptr, nullptr, params->maskGenAlgorithm);
  if (OBJ_obj2nid(mgf_obj) != NID_mgf1) {
    return BadParam("signAlgoParams", "maskGenAlgorithm is not MGF1");
  }
  std::unique_ptr<X509_ALGOR, AlgorDeleter> mgf_hash(
      static_cast<X509_ALGOR*>(ASN1_TYPE_unpack_sequence(
          ASN1_ITEM_rptr(X509_ALGOR), params->maskGenAlgorithm->parameter)));
  if (mgf_hash == nullptr) {
    return BadParam("signAlgoParams", "MGF1 has no hash");
  }
  ASSIGN_OR_RETURN(HashAlgorithm mgf, PssHash(mgf_hash.get(), "the MGF1 hash"));
  if (mgf != hash) {
    return BadParam("signAlgoParams",
                    "the MGF1 hash must be the same as hashAlgorithm");
  }
  int64_t salt = 20;
  if (params->saltLength != nullptr &&
      ASN1_INTEGER_get_int64(&salt, params->saltLength) != 1) {
    return BadParam("signAlgoParams", "bad saltLength");
  }
  if (salt != static_cast<int64_t>(crypto::DigestLength(hash))) {
    return BadParam("signAlgoParams", absl::StrCat("saltLength must be ",
                                                   crypto::DigestLength(hash),
                                                   " (the hash length)"));
  }
  int64_t trailer = 1;
  if (params->trailerField != nullptr &&
      (ASN1_INTEGER_get_int64(&trailer, params->trailerField) != 1 ||
       trailer != 1)) {
    return BadParam("signAlgoParams", "trailerField must be 1");
  }
  return hash;
}

// ---------------------------------------------------------------------------
// Form-urlencoded input
// ---------------------------------------------------------------------------

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::optional<std::string> PercentDecode(absl::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '+') {
      out.push_back(' ');
    } else if (c == '%') {
      if (i + 2 >= s.size()) return std::nullopt;
      int hi = HexValue(s[i + 1]), lo = HexValue(s[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

// Parameters by name. A parameter with an empty value is kept (so that a
// repetition is seen) but reads as absent.
class FormParams {
 public:
  static absl::StatusOr<FormParams> Parse(absl::string_view text) {
    if (text.size() > kMaxBodyBytes) {
      return Invalid(
          absl::StrCat("Request larger than ", kMaxBodyBytes, " bytes"));
    }
    FormParams form;
    for (absl::string_view pair : absl::StrSplit(text, '&')) {
      if (pair.empty()) continue;
      size_t eq = pair.find('=');
      absl::string_view raw_name = pair.substr(0, eq);
      absl::string_view raw_value =
          eq == absl::string_view::npos ? "" : pair.substr(eq + 1);
      std::optional<std::string> name = PercentDecode(raw_name);
      if (!name || !Utf8Length(*name) || HasControl(*name)) {
        return Invalid("Malformed parameter name");
      }
      std::optional<std::string> value = PercentDecode(raw_value);
      if (!value) {
        return BadParam(EchoName(*name), "malformed percent-encoding");
      }
      if (form.params_.count(*name) != 0) {
        return Invalid(absl::StrCat("Repeated parameter ", EchoName(*name)));
      }
      form.params_.emplace(std::move(*name), std::move(*value));
    }
    return form;
  }

  bool Has(absl::string_view name) const {
    auto it = params_.find(std::string(name));
    return it != params_.end() && !it->second.empty();
  }

  absl::StatusOr<std::optional<std::string>> Opt(absl::string_view name,
                                                 const TextRule& rule) const {
    auto it = params_.find(std::string(name));
    if (it == params_.end() || it->second.empty()) return std::nullopt;
    RETURN_IF_ERROR(CheckText(name, it->second, rule));
    return it->second;
  }

  absl::StatusOr<std::string> Req(absl::string_view name,
                                  const TextRule& rule) const {
    ASSIGN_OR_RETURN(std::optional<std::string> v, Opt(name, rule));
    if (!v) return MissingParam(name);
    return std::move(*v);
  }

  ~FormParams() {
    for (auto& [name, value] : params_) {
      OPENSSL_cleanse(value.data(), value.size());
    }
  }
  FormParams() = default;
  FormParams(FormParams&&) = default;
  FormParams& operator=(FormParams&&) = default;

 private:
  std::map<std::string, std::string> params_;
};

absl::StatusOr<std::optional<TokenTypeHint>> ParseHint(
    const std::optional<std::string>& hint) {
  if (!hint) return std::nullopt;
  if (*hint == "access_token") return TokenTypeHint::kAccessToken;
  if (*hint == "refresh_token") return TokenTypeHint::kRefreshToken;
  return BadParam("token_type_hint", "use access_token or refresh_token");
}

// RFC 7636 §4.1: 43..128 of [A-Za-z0-9-._~].
bool IsCodeVerifier(absl::string_view s) {
  if (s.size() < 43 || s.size() > 128) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' ||
           c == '.' || c == '_' || c == '~';
  });
}

// ---------------------------------------------------------------------------
// JSON output
// ---------------------------------------------------------------------------

json::string Str(absl::string_view s) {
  std::string clean = SanitizeUtf8(s);
  return json::string(json::string_view(clean.data(), clean.size()));
}

json::array StrArray(const std::vector<std::string>& v) {
  json::array a;
  for (const std::string& s : v) a.emplace_back(Str(s));
  return a;
}

std::string Serialize(const json::object& o) { return json::serialize(o); }

absl::string_view PresenceName(Presence p) {
  switch (p) {
    case Presence::kTrue:
      return "true";
    case Presence::kFalse:
      return "false";
    case Presence::kOptional:
      return "optional";
  }
  return "false";
}

absl::string_view FormatName(InputFormat f) {
  return f == InputFormat::kAlphanumeric ? "A" : "N";
}

absl::string_view CertStatusName(CertStatus s) {
  switch (s) {
    case CertStatus::kValid:
      return "valid";
    case CertStatus::kExpired:
      return "expired";
    case CertStatus::kRevoked:
      return "revoked";
    case CertStatus::kSuspended:
      return "suspended";
  }
  return "valid";
}

std::string CscTime(absl::Time t) {
  return absl::FormatTime("%Y%m%d%H%M%SZ", t, absl::UTCTimeZone());
}

json::object CredentialObject(const CredentialInfo& info,
                              bool with_credential_id) {
  json::object o;
  if (with_credential_id) o["credentialID"] = Str(info.credential_id);
  if (info.description) o["description"] = Str(*info.description);
  if (info.signature_qualifier) {
    o["signatureQualifier"] = Str(*info.signature_qualifier);
  }

  json::object key;
  key["status"] = info.key_enabled ? "enabled" : "disabled";
  key["algo"] = StrArray(KeyAlgoOids(info.key_algorithm));
  key["len"] = KeyLengthBits(info.key_algorithm);
  absl::string_view curve = CurveOid(info.key_algorithm);
  if (!curve.empty()) key["curve"] = Str(curve);
  o["key"] = std::move(key);

  if (info.cert) {
    json::object cert;
    if (info.cert->status)
      cert["status"] = Str(CertStatusName(*info.cert->status));
    if (!info.cert->certificates_der.empty()) {
      json::array certs;
      for (const std::string& der : info.cert->certificates_der) {
        certs.emplace_back(Str(absl::Base64Escape(der)));
      }
      cert["certificates"] = std::move(certs);
    }
    if (info.cert->details) {
      const CertDetails& d = *info.cert->details;
      cert["issuerDN"] = Str(d.issuer_dn);
      cert["serialNumber"] = Str(d.serial_number_hex);
      cert["subjectDN"] = Str(d.subject_dn);
      cert["validFrom"] = Str(CscTime(d.valid_from));
      cert["validTo"] = Str(CscTime(d.valid_to));
    }
    o["cert"] = std::move(cert);
  }

  bool explicit_mode = info.auth_mode == AuthMode::kExplicit;
  o["authMode"] = explicit_mode ? "explicit" : "oauth2code";
  json::array objects;
  std::vector<std::string> required;
  if (info.pin) {
    json::object pin;
    pin["presence"] = Str(PresenceName(info.pin->presence));
    pin["format"] = Str(FormatName(info.pin->format));
    if (info.pin->label) pin["label"] = Str(*info.pin->label);
    if (info.pin->description) pin["description"] = Str(*info.pin->description);
    o["PIN"] = std::move(pin);
    if (explicit_mode && info.pin->presence != Presence::kFalse) {
      json::object obj;
      obj["type"] = "Password";
      obj["id"] = "PIN";
      obj["format"] = Str(FormatName(info.pin->format));
      if (info.pin->label) obj["label"] = Str(*info.pin->label);
      if (info.pin->description) {
        obj["description"] = Str(*info.pin->description);
      }
      objects.emplace_back(std::move(obj));
      if (info.pin->presence == Presence::kTrue) required.push_back("PIN");
    }
  }
  if (info.otp) {
    json::object otp;
    otp["presence"] = Str(PresenceName(info.otp->presence));
    otp["type"] = info.otp->type == OtpType::kOffline ? "offline" : "online";
    if (info.otp->id) otp["ID"] = Str(*info.otp->id);
    if (info.otp->provider) otp["provider"] = Str(*info.otp->provider);
    otp["format"] = Str(FormatName(info.otp->format));
    if (info.otp->label) otp["label"] = Str(*info.otp->label);
    if (info.otp->description) otp["description"] = Str(*info.otp->description);
    o["OTP"] = std::move(otp);
    if (explicit_mode && info.otp->presence != Presence::kFalse) {
      json::object obj;
      bool offline = info.otp->type == OtpType::kOffline;
      obj["type"] = offline ? "Password" : "ChallengeResponse";
      obj["id"] = "OTP";
      obj["format"] = Str(FormatName(info.otp->format));
      if (offline) obj["generator"] = "totp";
      if (info.otp->label) obj["label"] = Str(*info.otp->label);
      if (info.otp->description) {
        obj["description"] = Str(*info.otp->description);
      }
      objects.emplace_back(std::move(obj));
      if (info.otp->presence == Presence::kTrue) required.push_back("OTP");
    }
  }
  json::object auth;
  auth["mode"] = explicit_mode ? "explicit" : "oauth2code";
  if (explicit_mode) {
    if (!required.empty()) {
      auth["expression"] = Str(absl::StrJoin(required, " AND "));
    }
    if (!objects.empty()) auth["objects"] = std::move(objects);
  }
  o["auth"] = std::move(auth);

  o["SCAL"] = Str(absl::StrCat(info.scal));
  o["multisign"] = info.multisign;
  if (info.lang) o["lang"] = Str(*info.lang);
  return o;
}

}  // namespace

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

std::string RenderError(const CscError& error) {
  json::object o;
  o["error"] = Str(error.error);
  if (!error.description.empty()) {
    o["error_description"] = Str(error.description);
  }
  return Serialize(o);
}

absl::Status ToStatus(const CscError& error) {
  absl::StatusCode code;
  switch (error.http_status) {
    case 400:
      code = absl::StatusCode::kInvalidArgument;
      break;
    case 401:
      code = absl::StatusCode::kUnauthenticated;
      break;
    case 403:
      code = absl::StatusCode::kPermissionDenied;
      break;
    case 429:
      code = absl::StatusCode::kResourceExhausted;
      break;
    case 501:
      code = absl::StatusCode::kUnimplemented;
      break;
    case 503:
      code = absl::StatusCode::kUnavailable;
      break;
    default:
      code = absl::StatusCode::kInternal;
  }
  absl::Status status(code, error.description);
  status.SetPayload(kPayloadUrl, absl::Cord(absl::StrCat(error.http_status, " ",
                                                         error.error)));
  return status;
}

CscError FromStatus(const absl::Status& status) {
  if (auto payload = status.GetPayload(kPayloadUrl); payload.has_value()) {
    std::string text(*payload);
    std::pair<std::string, std::string> parts =
        absl::StrSplit(text, absl::MaxSplits(' ', 1));
    int http_status = 0;
    if (absl::SimpleAtoi(parts.first, &http_status) && http_status >= 400 &&
        http_status <= 599 && !parts.second.empty()) {
      return MakeError(http_status, parts.second, status.message());
    }
  }
  switch (status.code()) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kNotFound:
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kUnimplemented:
      return InvalidRequest(status.message());
    case absl::StatusCode::kUnauthenticated:
      return InvalidToken(status.message());
    case absl::StatusCode::kPermissionDenied:
      return AccessDenied(status.message());
    case absl::StatusCode::kResourceExhausted:
      return TooManyRequests();
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
      return TemporarilyUnavailable();
    default:
      return ServerError();
  }
}

CscError InvalidRequest(absl::string_view description) {
  return MakeError(400, "invalid_request", description);
}
CscError InvalidToken(absl::string_view description) {
  return MakeError(401, "invalid_token", description);
}
CscError ExpiredToken() {
  return MakeError(401, "expired_token",
                   "The access or refresh token is expired or revoked");
}
CscError InvalidClient(absl::string_view description) {
  return MakeError(401, "invalid_client", description);
}
CscError UnauthorizedClient() {
  return MakeError(400, "unauthorized_client",
                   "The client is not allowed to use this method");
}
CscError AccessDenied(absl::string_view description) {
  return MakeError(403, "access_denied", description);
}
CscError InvalidScope() {
  return MakeError(400, "invalid_scope", "Invalid parameter scope");
}
CscError UnsupportedResponseType() {
  return MakeError(400, "unsupported_response_type",
                   "Invalid parameter response_type: only code is supported");
}
CscError InvalidGrant(absl::string_view description) {
  return MakeError(400, "invalid_grant", description);
}
CscError UnsupportedTokenType() {
  return MakeError(400, "unsupported_token_type",
                   "The token type cannot be revoked");
}
CscError AuthenticationError() {
  return MakeError(400, "authentication_error",
                   "An error occurred during authentication process");
}
CscError MalformedAuthenticationParameter() {
  return MakeError(401, "invalid_request",
                   "Malformed authentication parameter.");
}
CscError MalformedUsernamePassword() {
  return MakeError(400, "invalid_request", "Malformed username-password.");
}
CscError InvalidRefreshToken() {
  return MakeError(400, "invalid_request", "Invalid refresh_token");
}
CscError ClientAuthorizationRequired() {
  return MakeError(401, "invalid_request", "Client authorization required");
}
CscError InvalidPin() {
  return MakeError(400, "invalid_pin", "The PIN is invalid");
}
CscError InvalidOtp() {
  return MakeError(400, "invalid_otp", "The OTP is invalid");
}
CscError InvalidAuthenticationData() {
  return MakeError(400, "invalid_authentication_data",
                   "The authentication data is invalid");
}
CscError PinLocked() { return InvalidRequest("PIN locked"); }
CscError OtpLocked() { return InvalidRequest("OTP locked"); }
CscError CredentialLocked() { return InvalidRequest("Credential locked"); }
CscError InvalidCredentialId() {
  return InvalidRequest("Invalid parameter credentialID");
}
CscError CredentialDisabled() {
  return InvalidRequest(
      "The credential identified by credentialID is disabled");
}
CscError TooManySignatures() {
  return InvalidRequest("Numbers of signatures is too high");
}
CscError InvalidSad() { return InvalidRequest("Invalid parameter SAD"); }
CscError SadExpired() { return InvalidRequest("SAD expired"); }
CscError HashNotAuthorized() {
  return InvalidRequest("Hash is not authorized by the SAD.");
}
CscError UserIdMustBeNull() {
  return InvalidRequest("userID parameter MUST be null");
}
CscError SigningCertificateExpired(absl::string_view subject_dn) {
  return InvalidRequest(
      absl::StrCat("Signing certificate '", subject_dn, "' is expired."));
}
CscError ServerError() {
  return MakeError(500, "server_error", "Internal server error");
}
CscError TemporarilyUnavailable() {
  return MakeError(503, "temporarily_unavailable",
                   "The service is temporarily unavailable");
}
CscError TooManyRequests() {
  return MakeError(429, "temporarily_unavailable", "Too many requests");
}

// ---------------------------------------------------------------------------
// Algorithms
// ---------------------------------------------------------------------------

absl::string_view HashAlgorithmOid(HashAlgorithm hash) {
  switch (hash) {
    case HashAlgorithm::kSha256:
      return kOidSha256;
    case HashAlgorithm::kSha384:
      return kOidSha384;
    case HashAlgorithm::kSha512:
      return kOidSha512;
  }
  return "";
}

absl::StatusOr<HashAlgorithm> ParseHashAlgorithmOid(absl::string_view oid) {
  for (HashAlgorithm h : {HashAlgorithm::kSha256, HashAlgorithm::kSha384,
                          HashAlgorithm::kSha512}) {
    if (oid == HashAlgorithmOid(h)) return h;
  }
  constexpr absl::string_view kField = "hashAlgorithmOID";
  if (oid == "1.3.14.3.2.26") {
    return BadParam(kField,
                    "SHA-1 is not accepted (use SHA-256, SHA-384 or SHA-512)");
  }
  if (oid == "2.16.840.1.101.3.4.2.4") {
    return BadParam(kField,
                    "SHA-224 is not accepted (use SHA-256, SHA-384 or "
                    "SHA-512)");
  }
  if (oid == "2.16.840.1.101.3.4.2.7" || oid == "2.16.840.1.101.3.4.2.8" ||
      oid == "2.16.840.1.101.3.4.2.9" || oid == "2.16.840.1.101.3.4.2.10") {
    return BadParam(kField,
                    "SHA-3 is not supported (use SHA-256, SHA-384 or "
                    "SHA-512)");
  }
  if (!LooksLikeOid(oid)) return BadParam(kField, "not an OID");
  return BadParam(kField, absl::StrCat("unsupported hash algorithm ", oid));
}

absl::StatusOr<SignAlgo> ParseSignAlgo(absl::string_view sign_algo,
                                       absl::string_view sign_algo_params_der,
                                       absl::string_view hash_algorithm_oid) {
  if (sign_algo.empty()) return MissingOrWrongType("string", "signAlgo");
  std::optional<HashAlgorithm> given;
  if (!hash_algorithm_oid.empty()) {
    ASSIGN_OR_RETURN(given, ParseHashAlgorithmOid(hash_algorithm_oid));
  }
  auto needs_hash_oid = [&](SignFamily family) -> absl::StatusOr<SignAlgo> {
    if (!given) return MissingOrWrongType("string", "hashAlgorithmOID");
    return SignAlgo{family, *given};
  };
  auto implied = [&](SignFamily family,
                     HashAlgorithm hash) -> absl::StatusOr<SignAlgo> {
    if (given && *given != hash) {
      return Invalid(
          "String parameter hashAlgorithmOID contradicts with signAlgo "
          "parameter");
    }
    return SignAlgo{family, hash};
  };

  if (sign_algo == kOidRsassaPss) {
    if (sign_algo_params_der.empty()) {
      if (!given) return MissingOrWrongType("string", "signAlgoParams");
      return SignAlgo{SignFamily::kRsaPss, *given};
    }
    ASSIGN_OR_RETURN(HashAlgorithm hash, ParsePssParams(sign_algo_params_der));
    return implied(SignFamily::kRsaPss, hash);
  }
  if (!sign_algo_params_der.empty() &&
      sign_algo_params_der != absl::string_view("\x05\x00", 2)) {
    return BadParam("signAlgoParams", "only RSASSA-PSS takes parameters");
  }
  if (sign_algo == kOidRsaEncryption) {
    return needs_hash_oid(SignFamily::kRsaPkcs1);
  }
  if (sign_algo == kOidSha256WithRsa) {
    return implied(SignFamily::kRsaPkcs1, HashAlgorithm::kSha256);
  }
  if (sign_algo == kOidSha384WithRsa) {
    return implied(SignFamily::kRsaPkcs1, HashAlgorithm::kSha384);
  }
  if (sign_algo == kOidSha512WithRsa) {
    return implied(SignFamily::kRsaPkcs1, HashAlgorithm::kSha512);
  }
  if (sign_algo == kOidEcPublicKey) return needs_hash_oid(SignFamily::kEcdsa);
  if (sign_algo == kOidEcdsaSha256) {
    return implied(SignFamily::kEcdsa, HashAlgorithm::kSha256);
  }
  if (sign_algo == kOidEcdsaSha384) {
    return implied(SignFamily::kEcdsa, HashAlgorithm::kSha384);
  }
  if (sign_algo == kOidEcdsaSha512) {
    return implied(SignFamily::kEcdsa, HashAlgorithm::kSha512);
  }
  if (sign_algo == kOidEd25519) return needs_hash_oid(SignFamily::kEd25519);
  if (sign_algo == "1.2.840.113549.1.1.5" || sign_algo == "1.2.840.10045.4.1") {
    return BadParam("signAlgo", "SHA-1 schemes are not accepted");
  }
  if (sign_algo == "1.2.840.113549.1.1.14" ||
      sign_algo == "1.2.840.10045.4.3.1") {
    return BadParam("signAlgo", "SHA-224 schemes are not accepted");
  }
  if (!LooksLikeOid(sign_algo)) return BadParam("signAlgo", "not an OID");
  return BadParam("signAlgo",
                  absl::StrCat("unsupported algorithm ", sign_algo));
}

absl::StatusOr<crypto::SignatureScheme> ResolveSignAlgo(
    absl::string_view sign_algo, absl::string_view sign_algo_params_der,
    absl::string_view hash_algorithm_oid, KeyAlgorithm credential_key) {
  ASSIGN_OR_RETURN(SignAlgo algo, ParseSignAlgo(sign_algo, sign_algo_params_der,
                                                hash_algorithm_oid));
  auto misfit = [&](absl::string_view scheme) {
    return BadParam(
        "signAlgo",
        absl::StrCat(scheme, " does not fit the credential's ",
                     crypto::KeyAlgorithmName(credential_key), " key"));
  };
  crypto::SignatureScheme scheme{credential_key, algo.hash,
                                 crypto::RsaPadding::kPkcs1};
  switch (algo.family) {
    case SignFamily::kRsaPkcs1:
      if (!crypto::IsRsa(credential_key)) return misfit("RSA PKCS#1 v1.5");
      return scheme;
    case SignFamily::kRsaPss:
      if (!crypto::IsRsa(credential_key)) return misfit("RSASSA-PSS");
      scheme.padding = crypto::RsaPadding::kPss;
      return scheme;
    case SignFamily::kEcdsa:
      if (!crypto::IsEc(credential_key)) return misfit("ECDSA");
      if (credential_key == KeyAlgorithm::kEcP384 &&
          algo.hash == HashAlgorithm::kSha256) {
        return BadParam("signAlgo",
                        "ECDSA with SHA-256 is not offered for ec-p384 keys "
                        "(use SHA-384 or SHA-512)");
      }
      return scheme;
    case SignFamily::kEd25519:
      if (credential_key != KeyAlgorithm::kEd25519) return misfit("Ed25519");
      return scheme;
  }
  return Invalid("Invalid parameter signAlgo");
}

absl::StatusOr<crypto::SignatureScheme> ResolveSignAlgo(
    const SignHashRequest& request, KeyAlgorithm credential_key) {
  return ResolveSignAlgo(
      request.sign_algo, request.sign_algo_params.value_or(""),
      request.hash_algorithm_oid.value_or(""), credential_key);
}

std::vector<std::string> KeyAlgoOids(KeyAlgorithm key) {
  auto list = [](std::initializer_list<absl::string_view> oids) {
    return std::vector<std::string>(oids.begin(), oids.end());
  };
  switch (key) {
    case KeyAlgorithm::kRsa2048:
    case KeyAlgorithm::kRsa3072:
    case KeyAlgorithm::kRsa4096:
      return list({kOidSha256WithRsa, kOidSha384WithRsa, kOidSha512WithRsa,
                   kOidRsassaPss, kOidRsaEncryption});
    case KeyAlgorithm::kEcP256:
      return list(
          {kOidEcdsaSha256, kOidEcdsaSha384, kOidEcdsaSha512, kOidEcPublicKey});
    case KeyAlgorithm::kEcP384:
      return list({kOidEcdsaSha384, kOidEcdsaSha512, kOidEcPublicKey});
    case KeyAlgorithm::kEd25519:
      return list({kOidEd25519});
  }
  return {};
}

int KeyLengthBits(KeyAlgorithm key) {
  switch (key) {
    case KeyAlgorithm::kRsa2048:
      return 2048;
    case KeyAlgorithm::kRsa3072:
      return 3072;
    case KeyAlgorithm::kRsa4096:
      return 4096;
    case KeyAlgorithm::kEcP256:
      return 256;
    case KeyAlgorithm::kEcP384:
      return 384;
    case KeyAlgorithm::kEd25519:
      return 256;
  }
  return 0;
}

absl::string_view CurveOid(KeyAlgorithm key) {
  switch (key) {
    case KeyAlgorithm::kEcP256:
      return kOidCurveP256;
    case KeyAlgorithm::kEcP384:
      return kOidCurveP384;
    default:
      return "";
  }
}

std::string PssParamsDer(HashAlgorithm hash) {
  // SEQUENCE { [0] sha-N NULL, [1] { id-mgf1 { sha-N NULL } }, [2] INTEGER }
  const std::string sha_oid =
      std::string("\x06\x09\x60\x86\x48\x01\x65\x03\x04\x02", 10);
  char last = hash == HashAlgorithm::kSha256   ? '\x01'
              : hash == HashAlgorithm::kSha384 ? '\x02'
                                               : '\x03';
  std::string hash_alg =
      std::string("\x30\x0d", 2) + sha_oid + last + std::string("\x05\x00", 2);
  std::string mgf1 = std::string(
                         "\x30\x1a\x06\x09\x2a\x86\x48\x86\xf7\x0d"
                         "\x01\x01\x08",
                         13) +
                     hash_alg;
  std::string out = std::string("\x30\x34\xa0\x0f", 4) + hash_alg +
                    std::string("\xa1\x1c", 2) + mgf1 +
                    std::string("\xa2\x03\x02\x01", 4) +
                    static_cast<char>(crypto::DigestLength(hash));
  return out;
}

// ---------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------

absl::StatusOr<InfoRequest> ParseInfoRequest(absl::string_view body) {
  ASSIGN_OR_RETURN(json::value doc, ParseJsonObject(body));
  const json::object& o = doc.get_object();
  InfoRequest r;
  ASSIGN_OR_RETURN(r.lang, OptLang(o));
  return r;
}

absl::StatusOr<AuthLoginRequest> ParseAuthLoginRequest(absl::string_view body) {
  ASSIGN_OR_RETURN(json::value doc, ParseJsonObject(body));
  const json::object& o = doc.get_object();
  AuthLoginRequest r;
  ASSIGN_OR_RETURN(r.refresh_token, OptString(o, "refresh_token", kTokenRule));
  ASSIGN_OR_RETURN(r.remember_me, OptBool(o, "rememberMe", false));
  ASSIGN_OR_RETURN(r.client_data, OptClientData(o));
  return r;
}

absl::StatusOr<CredentialsListRequest> ParseCredentialsListRequest(
    absl::string_view body) {
  ASSIGN_OR_RETURN(json::value doc, ParseJsonObject(body));
  const json::object& o = doc.get_object();
  CredentialsListRequest r;
  ASSIGN_OR_RETURN(r.user_id, OptString(o, "userID", kIdRule));
  ASSIGN_OR_RETURN(r.credential_info, OptBool(o, "credentialInfo", false));
  ASSIGN_OR_RETURN(r.certificates, OptCertificates(o));
  ASSIGN_OR_RETURN(r.cert_info, OptBool(o, "certInfo", false));
  ASSIGN_OR_RETURN(r.auth_info, OptBool(o, "authInfo", false));
  ASSIGN_OR_RETURN(r.only_valid, OptBool(o, "onlyValid", false));
  ASSIGN_OR_RETURN(r.lang, OptLang(o));
  ASSIGN_OR_RETURN(r.client_data, OptClientData(o));
  return r;
}

absl::StatusOr<CredentialsInfoRequest> ParseCredentialsInfoRequest(
    absl::string_view body) {
  ASSIGN_OR_RETURN(json::value doc, ParseJsonObject(body));
  const json::object& o = doc.get_object();
  CredentialsInfoRequest r;
  ASSIGN_OR_RETURN(r.credential_id, ReqString(o, "credentialID", kIdRule));
  ASSIGN_OR_RETURN(r.certificates, OptCertificates(o));
  ASSIGN_OR_RETURN(r.cert_info, OptBool(o, "certInfo", false));
  ASSIGN_OR_RETURN(r.auth_info, OptBool(o, "authInfo", false));
  ASSIGN_OR_RETURN(r.lang, OptLang(o));
  ASSIGN_OR_RETURN(r.client_data, OptClientData(o));
  return r;
}

absl::StatusOr<CredentialsAuthorizeRequest> ParseCredentialsAuthorizeRequest(
    absl::string_view body) {
  ASSIGN_OR_RETURN(json::value doc, ParseJsonObject(body));
  const json::object& o = doc.get_object();
  CredentialsAuthorizeRequest r;
  ASSIGN_OR_RETURN(r.credential_id, ReqString(o, "credentialID", kIdRule));

  ASSIGN_OR_RETURN(std::optional<int64_t> n, OptInteger(o, "numSignatures"));
  if (!n) return MissingOrWrongType("integer", "numSignatures");
  RETURN_IF_ERROR(CheckNumSignatures(*n));
  r.num_signatures = static_cast<int>(*n);

  ASSIGN_OR_RETURN(std::optional<std::vector<std::string>> hashes,
                   OptJsonHashes(o));
  ASSIGN_OR_RETURN(std::optional<std::string> hash_oid,
                   OptString(o, "hashAlgorithmOID", kOidRule));
  if (hash_oid) {
    ASSIGN_OR_RETURN(r.hash_algorithm, ParseHashAlgorithmOid(*hash_oid));
  }
  if (hashes) {
    if (!r.hash_algorithm) {
      return MissingOrWrongType("string", "hashAlgorithmOID");
    }
    RETURN_IF_ERROR(CheckDigests(*hashes, *r.hash_algorithm));
    if (hashes->size() != static_cast<size_t>(r.num_signatures)) {
      return BadParam("numSignatures",
                      absl::StrCat("it must equal the number of hashes (",
                                   hashes->size(), ")"));
    }
    r.hashes = std::move(*hashes);
  }

  if (const json::value* v = Find(o, "authData")) {
    if (!v->is_array()) return MissingOrWrongType("array", "authData");
    const json::array& a = v->get_array();
    if (a.size() > kMaxAuthDataEntries) {
      return BadParam(
          "authData",
          absl::StrCat("more than ", kMaxAuthDataEntries, " entries"));
    }
    std::vector<AuthDatum> data;
    std::set<std::string> ids;
    for (size_t i = 0; i < a.size(); ++i) {
      std::string where = absl::StrCat("authData[", i, "]");
      if (!a[i].is_object()) return BadParam(where, "not an object");
      const json::object& e = a[i].get_object();
      AuthDatum d;
      const json::value* id = Find(e, "id");
      if (id == nullptr || !id->is_string()) {
        return MissingOrWrongType("string", absl::StrCat(where, ".id"));
      }
      d.id = std::string(View(id->get_string()));
      RETURN_IF_ERROR(CheckText(absl::StrCat(where, ".id"), d.id, kIdRule));
      if (const json::value* value = Find(e, "value")) {
        if (!value->is_string()) {
          return MissingOrWrongType("string", absl::StrCat(where, ".value"));
        }
        absl::string_view s = View(value->get_string());
        // The value is a secret: say what is wrong, never what it is.
        RETURN_IF_ERROR(
            CheckText(absl::StrCat(where, ".value"), s, kAuthValueRule));
        d.value = std::string(s);
      }
      if (!ids.insert(d.id).second) {
        return BadParam("authData",
                        absl::StrCat("entry ", i, " repeats an earlier id"));
      }
      data.push_back(std::move(d));
    }
    r.auth_data = std::move(data);
  }
  ASSIGN_OR_RETURN(r.description,
                   OptString(o, "description", kDescriptionRule));
  ASSIGN_OR_RETURN(r.client_data, OptClientData(o));
  return r;
}

absl::StatusOr<SignHashRequest> ParseSignHashRequest(absl::string_view body) {
  ASSIGN_OR_RETURN(json::value doc, ParseJsonObject(body));
  const json::object& o = doc.get_object();
  SignHashRequest r;
  ASSIGN_OR_RETURN(r.credential_id, ReqString(o, "credentialID", kIdRule));
  ASSIGN_OR_RETURN(r.sad, OptString(o, "SAD", kTokenRule));

  ASSIGN_OR_RETURN(std::optional<std::vector<std::string>> hashes,
                   OptJsonHashes(o));
  if (!hashes) return MissingOrWrongType("array", "hashes");

  ASSIGN_OR_RETURN(r.sign_algo, ReqString(o, "signAlgo", kOidRule));
  ASSIGN_OR_RETURN(
      std::optional<std::string> params_b64,
      OptString(o, "signAlgoParams", TextRule{kMaxSignAlgoParamsBytes}));
  if (params_b64) {
    std::optional<std::string> der = DecodeStdBase64(*params_b64);
    if (!der) return BadParam("signAlgoParams", "not base64");
    r.sign_algo_params = std::move(*der);
  }
  ASSIGN_OR_RETURN(r.hash_algorithm_oid,
                   OptString(o, "hashAlgorithmOID", kOidRule));
  ASSIGN_OR_RETURN(SignAlgo algo,
                   ParseSignAlgo(r.sign_algo, r.sign_algo_params.value_or(""),
                                 r.hash_algorithm_oid.value_or("")));
  r.hash = algo.hash;
  RETURN_IF_ERROR(CheckDigests(*hashes, r.hash));
  r.hashes = std::move(*hashes);

  if (const json::value* v = Find(o, "operationMode")) {
    if (!v->is_string()) return MissingOrWrongType("string", "operationMode");
    absl::string_view mode = View(v->get_string());
    if (mode == "A") {
      return BadParam("operationMode",
                      "asynchronous operation (A) is not supported; use S");
    }
    if (mode != "S") return BadParam("operationMode", "use S");
  }
  ASSIGN_OR_RETURN(r.client_data, OptClientData(o));
  return r;
}

absl::StatusOr<RevokeRequest> ParseAuthRevokeRequest(absl::string_view body) {
  ASSIGN_OR_RETURN(json::value doc, ParseJsonObject(body));
  const json::object& o = doc.get_object();
  RevokeRequest r;
  ASSIGN_OR_RETURN(r.token, ReqString(o, "token", kTokenRule));
  ASSIGN_OR_RETURN(std::optional<std::string> hint,
                   OptString(o, "token_type_hint", kIdRule));
  ASSIGN_OR_RETURN(r.token_type_hint, ParseHint(hint));
  ASSIGN_OR_RETURN(r.client_data, OptClientData(o));
  return r;
}

absl::StatusOr<RevokeRequest> ParseOAuth2RevokeRequest(absl::string_view form) {
  ASSIGN_OR_RETURN(FormParams p, FormParams::Parse(form));
  RevokeRequest r;
  ASSIGN_OR_RETURN(r.token, p.Req("token", kTokenRule));
  ASSIGN_OR_RETURN(std::optional<std::string> hint,
                   p.Opt("token_type_hint", kIdRule));
  ASSIGN_OR_RETURN(r.token_type_hint, ParseHint(hint));
  ASSIGN_OR_RETURN(r.client_id, p.Opt("client_id", kIdRule));
  ASSIGN_OR_RETURN(r.client_secret, p.Opt("client_secret", kTokenRule));
  ASSIGN_OR_RETURN(r.client_data, p.Opt("clientData", kClientDataRule));
  return r;
}

absl::StatusOr<TokenRequest> ParseTokenRequest(absl::string_view form) {
  ASSIGN_OR_RETURN(FormParams p, FormParams::Parse(form));
  TokenRequest r;
  ASSIGN_OR_RETURN(std::string grant, p.Req("grant_type", kIdRule));
  if (grant == "authorization_code") {
    r.grant_type = GrantType::kAuthorizationCode;
  } else if (grant == "refresh_token") {
    r.grant_type = GrantType::kRefreshToken;
  } else {
    return BadParam("grant_type");
  }
  ASSIGN_OR_RETURN(r.client_id, p.Req("client_id", kIdRule));
  ASSIGN_OR_RETURN(r.client_secret, p.Opt("client_secret", kTokenRule));
  ASSIGN_OR_RETURN(r.redirect_uri, p.Opt("redirect_uri", kUriRule));
  ASSIGN_OR_RETURN(r.client_data, p.Opt("clientData", kClientDataRule));
  if (r.grant_type == GrantType::kAuthorizationCode) {
    ASSIGN_OR_RETURN(r.code, p.Req("code", kTokenRule));
    ASSIGN_OR_RETURN(r.code_verifier, p.Req("code_verifier", kTokenRule));
    if (!IsCodeVerifier(*r.code_verifier)) {
      return BadParam("code_verifier",
                      "43 to 128 characters of A-Z a-z 0-9 - . _ ~");
    }
  } else {
    ASSIGN_OR_RETURN(r.refresh_token, p.Req("refresh_token", kTokenRule));
  }
  return r;
}

absl::StatusOr<AuthorizeRequest> ParseAuthorizeQuery(absl::string_view query) {
  if (!query.empty() && query.front() == '?') query.remove_prefix(1);
  ASSIGN_OR_RETURN(FormParams p, FormParams::Parse(query));
  AuthorizeRequest r;
  ASSIGN_OR_RETURN(std::string response_type, p.Req("response_type", kIdRule));
  if (response_type != "code") return ToStatus(UnsupportedResponseType());
  ASSIGN_OR_RETURN(r.client_id, p.Req("client_id", kIdRule));
  ASSIGN_OR_RETURN(r.redirect_uri, p.Opt("redirect_uri", kUriRule));
  if (r.redirect_uri && r.redirect_uri->find('#') != std::string::npos) {
    return BadParam("redirect_uri", "it may not have a fragment");
  }
  if (p.Has("request_uri")) {
    return BadParam("request_uri",
                    "pushed authorization requests are not supported");
  }
  if (p.Has("authorization_details")) {
    return BadParam("authorization_details",
                    "not supported; use scope=credential");
  }
  ASSIGN_OR_RETURN(std::optional<std::string> scope, p.Opt("scope", kIdRule));
  if (!scope || *scope == "service") {
    r.scope = Scope::kService;
  } else if (*scope == "credential") {
    r.scope = Scope::kCredential;
  } else {
    return ToStatus(InvalidScope());
  }

  ASSIGN_OR_RETURN(r.code_challenge, p.Req("code_challenge", kIdRule));
  ASSIGN_OR_RETURN(std::optional<std::string> method,
                   p.Opt("code_challenge_method", kIdRule));
  if (!method || *method != "S256") {
    return BadParam("code_challenge_method",
                    "only S256 is supported (plain, the default, is refused)");
  }
  std::optional<std::string> challenge = DecodeBase64Url(r.code_challenge);
  if (r.code_challenge.size() != 43 || !challenge || challenge->size() != 32) {
    return BadParam("code_challenge",
                    "not the base64url SHA-256 of a code_verifier");
  }
  ASSIGN_OR_RETURN(r.state, p.Opt("state", kIdRule));
  ASSIGN_OR_RETURN(r.description, p.Opt("description", kDescriptionRule));
  ASSIGN_OR_RETURN(r.lang, p.Opt("lang", kLangRule));
  if (r.lang) RETURN_IF_ERROR(CheckLang(*r.lang));
  ASSIGN_OR_RETURN(r.client_data, p.Opt("clientData", kClientDataRule));

  if (r.scope == Scope::kService) {
    for (absl::string_view name : {"credentialID", "numSignatures", "hashes",
                                   "hashAlgorithmOID", "documentLabels"}) {
      if (p.Has(name)) return BadParam(name, "only with scope=credential");
    }
    return r;
  }

  ASSIGN_OR_RETURN(r.credential_id, p.Req("credentialID", kIdRule));
  ASSIGN_OR_RETURN(std::string num, p.Req("numSignatures", kIdRule));
  int64_t n = 0;
  if (num.size() > 9 ||
      !std::all_of(num.begin(), num.end(),
                   [](char c) { return c >= '0' && c <= '9'; }) ||
      !absl::SimpleAtoi(num, &n)) {
    return BadParam("numSignatures", "not an integer");
  }
  RETURN_IF_ERROR(CheckNumSignatures(n));
  r.num_signatures = static_cast<int>(n);

  ASSIGN_OR_RETURN(std::string hashes_text,
                   p.Req("hashes", TextRule{kMaxBodyBytes}));
  ASSIGN_OR_RETURN(std::string hash_oid, p.Req("hashAlgorithmOID", kOidRule));
  ASSIGN_OR_RETURN(r.hash_algorithm, ParseHashAlgorithmOid(hash_oid));
  std::vector<absl::string_view> encoded = absl::StrSplit(hashes_text, ',');
  ASSIGN_OR_RETURN(r.hashes, DecodeHashes(encoded, /*url=*/true));
  RETURN_IF_ERROR(CheckDigests(r.hashes, *r.hash_algorithm));
  if (r.hashes.size() != static_cast<size_t>(r.num_signatures)) {
    return BadParam("numSignatures",
                    absl::StrCat("it must equal the number of hashes (",
                                 r.hashes.size(), ")"));
  }

  ASSIGN_OR_RETURN(std::optional<std::string> labels,
                   p.Opt("documentLabels", TextRule{kMaxBodyBytes}));
  if (labels) {
    std::vector<absl::string_view> parts = absl::StrSplit(*labels, ',');
    if (parts.size() != r.hashes.size()) {
      return BadParam("documentLabels",
                      absl::StrCat("it must have one label per hash (",
                                   r.hashes.size(), ")"));
    }
    for (size_t i = 0; i < parts.size(); ++i) {
      std::string where = absl::StrCat("documentLabels[", i, "]");
      std::optional<std::string> label = DecodeBase64Url(parts[i]);
      if (!label) return BadParam(where, "not base64url");
      RETURN_IF_ERROR(CheckText(where, *label,
                                TextRule{4 * kMaxLabelChars, kMaxLabelChars}));
      r.document_labels.push_back(std::move(*label));
    }
  }
  return r;
}

std::string FormEncode(
    const std::vector<std::pair<std::string, std::string>>& params) {
  auto encode = [](absl::string_view s, std::string& out) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    for (char c : s) {
      auto u = static_cast<unsigned char>(c);
      if (absl::ascii_isalnum(u) || c == '-' || c == '.' || c == '_' ||
          c == '~') {
        out.push_back(c);
      } else {
        out.push_back('%');
        out.push_back(kHex[u >> 4]);
        out.push_back(kHex[u & 0xf]);
      }
    }
  };
  std::string out;
  for (const auto& [name, value] : params) {
    if (!out.empty()) out.push_back('&');
    encode(name, out);
    out.push_back('=');
    encode(value, out);
  }
  return out;
}

// ---------------------------------------------------------------------------
// Responses
// ---------------------------------------------------------------------------

std::string RenderInfoResponse(const ServiceInfo& info) {
  json::object o;
  o["specs"] = Str(info.specs);
  o["name"] = Str(info.name);
  o["logo"] = Str(info.logo);
  o["region"] = Str(info.region);
  o["lang"] = Str(info.lang);
  o["description"] = Str(info.description);
  o["authType"] = StrArray(info.auth_type);
  if (info.oauth2) o["oauth2"] = Str(*info.oauth2);
  if (info.oauth2_issuer) o["oauth2Issuer"] = Str(*info.oauth2_issuer);
  o["asynchronousOperationMode"] = info.asynchronous_operation_mode;
  o["methods"] = StrArray(info.methods);

  json::object sign_algorithms;
  json::array algos, params;
  bool any_params = false;
  for (const SignAlgorithmEntry& e : info.sign_algorithms) {
    algos.emplace_back(Str(e.oid));
    if (e.params_der) {
      params.emplace_back(Str(absl::Base64Escape(*e.params_der)));
      any_params = true;
    } else {
      params.emplace_back(nullptr);
    }
  }
  sign_algorithms["algos"] = std::move(algos);
  if (any_params) sign_algorithms["algoParams"] = std::move(params);
  o["signAlgorithms"] = std::move(sign_algorithms);

  json::object formats;
  formats["formats"] = StrArray(info.signature_formats);
  if (!info.envelope_properties.empty()) {
    json::array env;
    for (const auto& props : info.envelope_properties) {
      env.emplace_back(StrArray(props));
    }
    formats["envelope_properties"] = std::move(env);
  }
  o["signature_formats"] = std::move(formats);
  o["conformance_levels"] = StrArray(info.conformance_levels);
  return Serialize(o);
}

std::string RenderCredentialsInfoResponse(const CredentialInfo& info) {
  return Serialize(CredentialObject(info, /*with_credential_id=*/false));
}

std::string RenderCredentialsListResponse(
    const CredentialsListResponse& response) {
  json::object o;
  o["credentialIDs"] = StrArray(response.credential_ids);
  if (response.credential_infos) {
    json::array infos;
    for (const CredentialInfo& info : *response.credential_infos) {
      infos.emplace_back(CredentialObject(info, /*with_credential_id=*/true));
    }
    o["credentialInfos"] = std::move(infos);
  }
  if (response.only_valid) o["onlyValid"] = *response.only_valid;
  return Serialize(o);
}

std::string RenderCredentialsAuthorizeResponse(
    const AuthorizeResponse& response) {
  json::object o;
  o["SAD"] = Str(response.sad);
  o["expiresIn"] = response.expires_in;
  return Serialize(o);
}

std::string RenderSignHashResponse(const std::vector<std::string>& signatures) {
  json::array a;
  for (const std::string& s : signatures) {
    a.emplace_back(Str(absl::Base64Escape(s)));
  }
  json::object o;
  o["signatures"] = std::move(a);
  return Serialize(o);
}

std::string RenderAuthLoginResponse(const LoginResponse& response) {
  json::object o;
  o["access_token"] = Str(response.access_token);
  if (response.refresh_token) o["refresh_token"] = Str(*response.refresh_token);
  o["expires_in"] = response.expires_in;
  return Serialize(o);
}

std::string RenderTokenResponse(const TokenResponse& response) {
  json::object o;
  o["access_token"] = Str(response.access_token);
  o["token_type"] = "Bearer";
  o["expires_in"] = response.expires_in;
  if (response.refresh_token) o["refresh_token"] = Str(*response.refresh_token);
  if (response.credential_id) o["credentialID"] = Str(*response.credential_id);
  return Serialize(o);
}

}  // namespace inkan::api::csc
