// A Shamir share sealed to one custodian's P-256 public key, so that it can
// be handed over as a file that only the custodian can open (issue 3: "each
// share is sealed to its custodian's public key").
//
// ECIES-style (after SEC 1 v2 §5.1, with HKDF and AES-GCM):
//   1. a fresh ephemeral P-256 key E; Z = ECDH(E, R) with the recipient key R;
//   2. K = HKDF-SHA256(ikm = Z, salt = E_pub || R_pub, info = "inkan sealed
//      share v1", 32 bytes), points uncompressed (SEC 1 §2.3.3, 65 bytes);
//   3. AES-256-GCM (crypto/aead.h) of the share value under K, with the whole
//      header below as associated data.
//
// Binary form, base64 inside "-----BEGIN INKAN SEALED SHARE-----" and
// "-----END INKAN SEALED SHARE-----" lines (64 characters a line):
//   version (1 byte, = 1) || len(set_id) (1) || set_id || k (1) || n (1) ||
//   index (1) || SHA-256(recipient SubjectPublicKeyInfo DER) (32) || E_pub
//   (65) || nonce (12) || ciphertext || tag (16)
// The recipient key's hash is taken over its DER SPKI with the point
// uncompressed (what `openssl pkey -pubout -outform DER` writes).
//
// inkan seals; the custodian opens on their own machine, with a private key
// inkan never holds. Ed25519 custodians cannot receive sealed shares (X25519
// would need a second key): they keep the printed form (share_codec.h).
//
// Thread-safety: the functions are thread-safe.
#ifndef INKAN_CEREMONY_SEALED_SHARE_H_
#define INKAN_CEREMONY_SEALED_SHARE_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "ceremony/shamir.h"
#include "common/secret_bytes.h"

namespace inkan::ceremony {

inline constexpr absl::string_view kSealedShareBegin =
    "-----BEGIN INKAN SEALED SHARE-----";
inline constexpr absl::string_view kSealedShareEnd =
    "-----END INKAN SEALED SHARE-----";

// Seals `share` to the P-256 key in `recipient_spki_der` (DER
// SubjectPublicKeyInfo) and returns the text block. InvalidArgument if the
// share fails ValidateShare(), or if the key does not parse or is not P-256
// (an Ed25519 key, for instance); Internal if OpenSSL fails.
absl::StatusOr<std::string> SealShare(const Share& share,
                                      absl::string_view recipient_spki_der);

// The custodian's side: opens a block made by SealShare with the recipient's
// private key, DER PKCS#8 (SEC 1 ECPrivateKey, as crypto::GenerateSoftwareKey
// writes EC keys, is accepted too). Text before the BEGIN line and after the
// END line is ignored. InvalidArgument if the block or the key is malformed, or
// the key is not P-256; Unauthenticated if the block was sealed to another key,
// or was altered.
absl::StatusOr<Share> OpenSealedShare(
    absl::string_view text, const SecretBytes& recipient_pkcs8_private_key);

// What a sealed block says about itself, readable without the private key.
// NOT authenticated: OpenSealedShare is the only check.
struct SealedShareInfo {
  std::string set_id;
  int threshold = 0;
  int share_count = 0;
  uint8_t index = 0;
  // SHA-256 of the recipient's DER SubjectPublicKeyInfo (32 raw bytes).
  std::string recipient_key_sha256;
};

// InvalidArgument if the block is malformed.
absl::StatusOr<SealedShareInfo> InspectSealedShare(absl::string_view text);

}  // namespace inkan::ceremony

#endif  // INKAN_CEREMONY_SEALED_SHARE_H_
