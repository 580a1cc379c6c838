// Sealing a wrapped user key under the user's factors (R3, sole control).
//
// The KeyStore hands out a user key only wrapped under the HSM's master KEK.
// That blob is sealed once more, with AES-256-GCM, under a key only the user
// can make:
//
//   a   = Argon2id(PIN, salt, params)                         (knowledge)
//   b   = HMAC-SHA256(pepper, "inkan-seal-v1" | cred_id | a)   (inside the HSM)
//   k   = HKDF-SHA256(ikm = b || possession_secret, salt,
//                     info = "inkan sealing key v1" | cred_id | alg)
//   out = header || AES-256-GCM(k, wrapped, aad = header | cred_id | alg)
//
// so the database and the HSM together are not enough to sign: the PIN (and
// the possession factor's secret, when the factor yields one) must be
// presented. The header carries the version, the Argon2id parameters, the
// salt and whether a possession secret was mixed in; it is authenticated.
//
// Thread-safety: stateless functions.
#ifndef INKAN_SAM_SEALED_KEY_H_
#define INKAN_SAM_SEALED_KEY_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/secret_bytes.h"
#include "crypto/algorithm.h"
#include "crypto/kdf.h"
#include "hsm/key_store.h"

namespace inkan::sam {

// What the user presents. `possession` is empty when the possession factor
// yields no secret (TOTP, for instance, is checked separately).
struct Factors {
  SecretBytes pin;
  SecretBytes possession;
};

// What a sealed blob is bound to (authenticated, so a blob moved to another
// credential, user, algorithm or public key no longer opens).
struct SealBinding {
  std::string id;  // the credential id, or "user:<name>" for a PIN check
  crypto::KeyAlgorithm alg = crypto::KeyAlgorithm::kEcP256;
  int64_t user_id = 0;
  std::string public_key_der;  // bound by its SHA-256; empty for PIN checks
};

// The parameters a sealed blob was made with (read from its header).
struct SealInfo {
  crypto::Argon2Params argon2;
  bool has_possession = false;
};

// Bounds on Argon2id parameters, checked when sealing and before deriving
// from a stored blob (whose header an attacker with the database controls):
// t 1..16, memory 64 KiB..1 GiB, lanes 1..8, memory >= 8 KiB per lane.
absl::Status CheckArgon2Params(const crypto::Argon2Params& params);

// InvalidArgument if the PIN is empty or the parameters are out of bounds;
// Unavailable if the HSM cannot compute the pepper.
absl::StatusOr<std::string> SealKey(hsm::KeyStore& keys,
                                    const SealBinding& binding,
                                    const Factors& factors,
                                    const crypto::Argon2Params& params,
                                    const SecretBytes& wrapped);

// The wrapped key. Unauthenticated only when the factors are not the ones it
// was sealed under (or the blob was moved or altered); Unavailable when the
// HSM fails (never counted as a wrong PIN); DataLoss if the blob is malformed
// or its parameters are out of bounds.
absl::StatusOr<SecretBytes> UnsealKey(hsm::KeyStore& keys,
                                      const SealBinding& binding,
                                      const Factors& factors,
                                      absl::string_view sealed);

absl::StatusOr<SealInfo> ReadSealInfo(absl::string_view sealed);

}  // namespace inkan::sam

#endif  // INKAN_SAM_SEALED_KEY_H_
