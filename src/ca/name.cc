#include "ca/name.h"

#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/x509.h>

#include <algorithm>
#include <array>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "ca/x509_util.h"

namespace inkan::ca {
namespace {

struct AttributeType {
  absl::string_view keyword;  // how FormatName writes it
  absl::string_view alias;    // another accepted spelling, or empty
  int nid;
};

constexpr std::array<AttributeType, 15> kAttributeTypes = {{
    {"CN", "commonName", NID_commonName},
    {"C", "countryName", NID_countryName},
    {"ST", "stateOrProvinceName", NID_stateOrProvinceName},
    {"L", "localityName", NID_localityName},
    {"O", "organizationName", NID_organizationName},
    {"OU", "organizationalUnitName", NID_organizationalUnitName},
    {"STREET", "streetAddress", NID_streetAddress},
    {"DC", "domainComponent", NID_domainComponent},
    {"UID", "userId", NID_userId},
    {"serialNumber", "", NID_serialNumber},
    {"SN", "surname", NID_surname},
    {"GN", "givenName", NID_givenName},
    {"title", "", NID_title},
    {"emailAddress", "", NID_pkcs9_emailAddress},
    {"organizationIdentifier", "", NID_organizationIdentifier},
}};

const AttributeType* FindType(absl::string_view keyword) {
  for (const AttributeType& t : kAttributeTypes) {
    if (absl::EqualsIgnoreCase(keyword, t.keyword) ||
        (!t.alias.empty() && absl::EqualsIgnoreCase(keyword, t.alias))) {
      return &t;
    }
  }
  return nullptr;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool IsEscapable(char c) {
  return absl::string_view(",+\"\\<>;= #").find(c) != absl::string_view::npos;
}

absl::Status CheckAttribute(const NameAttribute& attr,
                            const AttributeType** type) {
  *type = FindType(attr.type);
  if (*type == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown name attribute type \"", attr.type, "\""));
  }
  if (attr.value.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat((*type)->keyword, " has an empty value"));
  }
  for (char c : attr.value) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      return absl::InvalidArgumentError(
          absl::StrCat((*type)->keyword, " contains a control character"));
    }
  }
  if ((*type)->nid == NID_countryName &&
      (attr.value.size() != 2 || !absl::ascii_isupper(attr.value[0]) ||
       !absl::ascii_isupper(attr.value[1]))) {
    return absl::InvalidArgumentError(
        "C must be a two-letter country code in capitals (ISO 3166)");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Name> ParseName(absl::string_view s) {
  Name name;
  size_t pos = 0;
  const size_t n = s.size();
  if (n == 0) return absl::InvalidArgumentError("name is empty");
  while (true) {
    size_t eq = s.find('=', pos);
    if (eq == absl::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("name: expected TYPE=value at offset ", pos));
    }
    NameAttribute attr;
    attr.type = std::string(s.substr(pos, eq - pos));
    const AttributeType* type = FindType(attr.type);
    if (type == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown name attribute type \"", attr.type, "\""));
    }
    attr.type = std::string(type->keyword);
    pos = eq + 1;
    if (pos < n && s[pos] == '#') {
      return absl::InvalidArgumentError(
          absl::StrCat(type->keyword, ": #hex values are not supported"));
    }
    if (pos < n && s[pos] == ' ') {
      return absl::InvalidArgumentError(absl::StrCat(
          type->keyword, ": a leading space must be escaped (\"\\ \")"));
    }
    bool last_escaped = false;
    while (pos < n && s[pos] != ',' && s[pos] != '+') {
      char c = s[pos];
      if (c == '\\') {
        if (pos + 1 >= n) {
          return absl::InvalidArgumentError(
              absl::StrCat(type->keyword, ": dangling backslash"));
        }
        char d = s[pos + 1];
        if (IsEscapable(d)) {
          attr.value.push_back(d);
          pos += 2;
        } else if (pos + 2 < n && HexValue(d) >= 0 &&
                   HexValue(s[pos + 2]) >= 0) {
          attr.value.push_back(
              static_cast<char>(HexValue(d) * 16 + HexValue(s[pos + 2])));
          pos += 3;
        } else {
          return absl::InvalidArgumentError(absl::StrCat(
              type->keyword, ": bad escape \"\\", s.substr(pos + 1, 1), "\""));
        }
        last_escaped = true;
        continue;
      }
      if (c == '"' || c == ';' || c == '<' || c == '>' || c == '\0') {
        return absl::InvalidArgumentError(
            absl::StrCat(type->keyword, ": character '", std::string(1, c),
                         "' must be escaped"));
      }
      attr.value.push_back(c);
      last_escaped = false;
      ++pos;
    }
    if (!last_escaped && !attr.value.empty() && attr.value.back() == ' ') {
      return absl::InvalidArgumentError(absl::StrCat(
          type->keyword, ": a trailing space must be escaped (\"\\ \")"));
    }
    if (attr.value.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(type->keyword, " has an empty value"));
    }
    name.rdns.push_back(std::move(attr));
    if (pos == n) break;
    if (s[pos] == '+') {
      return absl::InvalidArgumentError("multi-valued RDNs are not supported");
    }
    ++pos;  // the comma
    while (pos < n && s[pos] == ' ') ++pos;
    if (pos == n) {
      return absl::InvalidArgumentError("name ends with a comma");
    }
  }
  std::reverse(name.rdns.begin(), name.rdns.end());
  // Length and character-set limits come from the encoder.
  auto der = EncodeName(name);
  if (!der.ok()) return der.status();
  return name;
}

std::string FormatName(const Name& name) {
  std::vector<std::string> parts;
  for (auto it = name.rdns.rbegin(); it != name.rdns.rend(); ++it) {
    const AttributeType* type = FindType(it->type);
    std::string out = type ? std::string(type->keyword) : it->type;
    out.push_back('=');
    const std::string& v = it->value;
    for (size_t i = 0; i < v.size(); ++i) {
      char c = v[i];
      auto u = static_cast<unsigned char>(c);
      if (u < 0x20 || u == 0x7f) {
        absl::StrAppend(&out, "\\", absl::Hex(u, absl::kZeroPad2));
      } else if (absl::string_view(",+\"\\<>;").find(c) !=
                     absl::string_view::npos ||
                 (i == 0 && (c == ' ' || c == '#')) ||
                 (i + 1 == v.size() && c == ' ')) {
        out.push_back('\\');
        out.push_back(c);
      } else {
        out.push_back(c);
      }
    }
    parts.push_back(std::move(out));
  }
  return absl::StrJoin(parts, ",");
}

absl::StatusOr<std::string> EncodeName(const Name& name) {
  if (name.rdns.empty()) return absl::InvalidArgumentError("name is empty");
  internal::X509NamePtr x(X509_NAME_new());
  if (!x) return absl::InternalError("out of memory");
  for (const NameAttribute& attr : name.rdns) {
    const AttributeType* type = nullptr;
    absl::Status st = CheckAttribute(attr, &type);
    if (!st.ok()) return st;
    // MBSTRING_UTF8 lets OpenSSL's string table pick the ASN.1 type and
    // enforce the X.520 upper bounds; it also rejects invalid UTF-8.
    if (X509_NAME_add_entry_by_NID(
            x.get(), type->nid, MBSTRING_UTF8,
            reinterpret_cast<const unsigned char*>(attr.value.data()),
            static_cast<int>(attr.value.size()), -1, 0) != 1) {
      ERR_clear_error();
      return absl::InvalidArgumentError(absl::StrCat(
          type->keyword,
          " is too long, not UTF-8, or has characters its type does not "
          "allow"));
    }
  }
  return internal::I2d(i2d_X509_NAME, x.get());
}

}  // namespace inkan::ca
