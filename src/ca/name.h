// Distinguished names for the certificates, CSRs and CRLs the CA makes.
//
// A Name is a list of single-valued RDNs in DER order, most significant
// first (C, O, ..., CN), as OpenSSL's "-subj /C=JP/O=Example/CN=Alice" writes
// them. ParseName and FormatName use the RFC 4514 string form, which lists
// the RDNs the other way round: "CN=Alice,O=Example,C=JP".
//
// Attribute types (keywords match case-insensitively): CN, C, ST, L, O, OU,
// STREET, DC, UID, serialNumber, SN (surname), GN (givenName), title,
// emailAddress, organizationIdentifier. Values are UTF-8 without control
// characters; C is two capital letters; length limits are X.520's (CN at most
// 64 characters, ...). Multi-valued RDNs ("+") and "#hex" values are not
// supported.
//
// Thread-safety: plain values and pure functions.
#ifndef INKAN_CA_NAME_H_
#define INKAN_CA_NAME_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace inkan::ca {

struct NameAttribute {
  std::string type;   // a keyword from the list above, e.g. "CN"
  std::string value;  // UTF-8, unescaped
  bool operator==(const NameAttribute&) const = default;
};

// Copyable and movable.
struct Name {
  std::vector<NameAttribute> rdns;  // DER order: most significant first
  bool operator==(const Name&) const = default;
};

// Parses an RFC 4514 string ("CN=Alice,O=Example,C=JP"; a space after each
// comma is tolerated). Escapes: "\," "\+" "\"" "\\" "\<" "\>" "\;" "\=" "\#"
// "\ " and "\XX" (hex). InvalidArgument naming the problem for an unknown
// type, an empty or over-long value, an unescaped special character, a
// multi-valued RDN, or an empty name.
absl::StatusOr<Name> ParseName(absl::string_view rfc4514);

// The RFC 4514 string for `name`, with the escapes above where needed.
std::string FormatName(const Name& name);

// DER encoding of `name` as an X.501 Name (C, serialNumber and DC/
// emailAddress as PrintableString/IA5String, everything else UTF8String,
// per RFC 5280 §4.1.2.4 and Appendix A). InvalidArgument as ParseName.
absl::StatusOr<std::string> EncodeName(const Name& name);

}  // namespace inkan::ca

#endif  // INKAN_CA_NAME_H_
