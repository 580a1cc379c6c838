// Names of the meta entries kept about a credential beside its row (read by
// the credential service, the enrollment and the CA).
#ifndef INKAN_STORAGE_CREDENTIAL_META_H_
#define INKAN_STORAGE_CREDENTIAL_META_H_

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace inkan::storage {

// "user" when the credential's key was delivered to its owner (enrollment
// path C): no sealed blob is kept and inkan cannot sign with it.
inline std::string CredentialCustodyKey(absl::string_view credential_id) {
  return absl::StrCat("credential.", credential_id, ".custody");
}

// Non-empty (the enrollment id) while an enrollment waits for the user's
// receipt: no certificate may be issued for the credential until then (R9).
// Emptied at receipt.
inline std::string CredentialAwaitingReceiptKey(
    absl::string_view credential_id) {
  return absl::StrCat("credential.", credential_id, ".awaiting_receipt");
}

}  // namespace inkan::storage

#endif  // INKAN_STORAGE_CREDENTIAL_META_H_
