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

// The parameters a sealed blob was made with (read from its header).
struct SealInfo {
  crypto::Argon2Params argon2;
  bool has_possession = false;
};

// InvalidArgument if the PIN is empty or the parameters are unusable.
absl::StatusOr<std::string> SealKey(hsm::KeyStore& keys,
                                    absl::string_view credential_id,
                                    crypto::KeyAlgorithm alg,
                                    const Factors& factors,
                                    const crypto::Argon2Params& params,
                                    absl::string_view wrapped);

// The wrapped key, or Unauthenticated if the factors are not the ones it was
// sealed under; DataLoss if the blob is malformed.
absl::StatusOr<std::string> UnsealKey(hsm::KeyStore& keys,
                                      absl::string_view credential_id,
                                      crypto::KeyAlgorithm alg,
                                      const Factors& factors,
                                      absl::string_view sealed);

absl::StatusOr<SealInfo> ReadSealInfo(absl::string_view sealed);

}  // namespace inkan::sam

#endif  // INKAN_SAM_SEALED_KEY_H_
