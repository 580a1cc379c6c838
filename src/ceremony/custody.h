// Custody of the CA key under multi-person control (R6, R7, R8).
//
// The CA key is generated in the HSM and leaves it only wrapped under the
// HSM's master KEK (inner layer: useless without that HSM); that blob is then
// AEAD-sealed under a fresh CA KEK (outer layer: useless without k shares), so
// neither the HSM alone nor all the shares together yield the key. The CA KEK
// itself is never stored: it is split k-of-n with Shamir's scheme among the
// custodians (the operators chosen at the ceremony). Each share is sealed to
// its custodian's P-256 key, or — for a custodian whose key cannot receive
// sealed data (Ed25519) — handed out once as checksummed text to print. inkan
// keeps the wrapped CA key, its public key, and per share the custodian, a
// commitment (so a share altered even with a recomputed checksum is named when
// it is entered) and the sealed share. Activating the CA key takes k shares
// that pass their commitments; the KEK then lives only for the one unwrap.
//
// Thread-safety: stateless functions.
#ifndef INKAN_CEREMONY_CUSTODY_H_
#define INKAN_CEREMONY_CUSTODY_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "ceremony/shamir.h"
#include "crypto/algorithm.h"
#include "hsm/key_store.h"
#include "storage/store.h"

namespace inkan::ceremony {

struct CustodianShare {
  std::string custodian;   // operator name
  int index = 0;           // the share's x (1..n)
  std::string commitment;  // ShareCommitment, 32 raw bytes
  std::string
      sealed;  // sealed to the custodian's P-256 key; empty for a text share
};

// What is stored about a key in custody; nothing in it is secret.
struct Custody {
  crypto::KeyAlgorithm alg = crypto::KeyAlgorithm::kEcP256;
  std::string public_key_der;
  std::string wrapped;  // the private key wrapped under the (split) KEK
  std::string set_id;
  int threshold = 0;
  std::vector<CustodianShare> shares;
};

struct NewCustody {
  Custody custody;
  // Text shares for custodians without a P-256 key: to print once, for that
  // custodian only. Never stored.
  std::map<std::string, SecretBytes> text_shares;
  // The key, active, from CreateCustody (so the ceremony can use it once —
  // e.g. to self-sign the root — before the KEK is gone). Null from Reshare.
  std::unique_ptr<hsm::ActiveKey> key;
};

// Generates a key of `alg` under a fresh KEK and splits the KEK k-of-n among
// `custodians` (n = their number). InvalidArgument for k out of 2..n or a
// custodian named twice.
absl::StatusOr<NewCustody> CreateCustody(
    hsm::KeyStore& keys, crypto::KeyAlgorithm alg,
    absl::Span<const storage::OperatorRecord> custodians, int k);

// Re-splits the KEK of `current` among `custodians` (rekey: the key and its
// wrapped blob stay; the old shares become useless). Needs k valid shares of
// the current split.
// `companions` (copies of the same key in custody on other HSMs, e.g. the
// backup token's, same split) are re-sealed under the new KEK in place, so
// the old shares open none of them either.
absl::StatusOr<NewCustody> Reshare(
    const Custody& current, absl::Span<const Share> shares,
    absl::Span<const storage::OperatorRecord> custodians, int k,
    std::vector<Custody>* companions = nullptr);

// Copies the key in `custody` (wrapped by `from`'s CA KEK) to the HSM `to`
// (R7: the backup token, or a new HSM restored from it): k checked shares
// open the outer layer, the key moves inside the HSMs under a transport key
// of `to`, is checked by a signature against the recorded public key, and is
// returned as the same custody (same split, shares and commitments) wrapped
// by `to`'s CA KEK. Neither HSM keeps a key object.
absl::StatusOr<Custody> CopyCustody(hsm::KeyStore& from, const Custody& custody,
                                    absl::Span<const Share> shares,
                                    hsm::KeyStore& to);

// Checks one entered share against the custody: set, index and commitment.
// InvalidArgument naming the share and what is wrong.
absl::Status CheckShare(const Custody& custody, const Share& share);

// Combines k checked shares and unwraps the key in the HSM.
// FailedPrecondition with fewer than k distinct valid shares.
absl::StatusOr<std::unique_ptr<hsm::ActiveKey>> Activate(
    hsm::KeyStore& keys, const Custody& custody,
    absl::Span<const Share> shares);

// Stored as one canonical JSON object in meta `key`.
absl::Status SaveCustody(storage::Transaction& tx, absl::string_view key,
                         const Custody& custody);
// NotFound if there is none; DataLoss if it does not parse.
absl::StatusOr<Custody> LoadCustody(storage::Transaction& tx,
                                    absl::string_view key);
// The same canonical JSON form, for custody records kept elsewhere (the
// backup token). `key` names the record in errors; NotFound for a tombstone.
absl::StatusOr<std::string> CustodyToJson(const Custody& custody);
absl::StatusOr<Custody> CustodyFromJson(absl::string_view text,
                                        absl::string_view key);

}  // namespace inkan::ceremony

#endif  // INKAN_CEREMONY_CUSTODY_H_
