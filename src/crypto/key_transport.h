// Private keys that cross a boundary on purpose (enrollment, R10/R11):
//   - path B: a key made by its owner, wrapped for the HSM's transport key in
//     the CKM_RSA_AES_KEY_WRAP format, so it never travels in the clear;
//   - path C: a key made in the HSM, brought out under a one-time AES key
//     and handed to its owner once as a password-protected PKCS#12.
// Every plaintext key is held in SecretBytes (wiped when dropped).
#ifndef INKAN_CRYPTO_KEY_TRANSPORT_H_
#define INKAN_CRYPTO_KEY_TRANSPORT_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/secret_bytes.h"

namespace inkan::crypto {

// CKM_RSA_AES_KEY_WRAP (PKCS#11 v2.40 §2.1.21) of `pkcs8_der` for the RSA
// public key `transport_spki_der` (>= 3072 bits): a fresh AES-256 key
// encrypted with RSA-OAEP (SHA-1, MGF1-SHA-1, no label: what SoftHSM 2.6
// accepts), followed by the RFC 5649 key wrap with padding of the PKCS#8
// bytes under that AES key. The AES key is wiped before returning.
// InvalidArgument for a public key that is not RSA >= 3072.
absl::StatusOr<std::string> RsaAesKeyWrap(absl::string_view transport_spki_der,
                                          const SecretBytes& pkcs8_der);

// RFC 5649 unwrap (AES key wrap with padding) under a 32-byte key.
// InvalidArgument if the integrity check fails.
absl::StatusOr<SecretBytes> AesKeyUnwrapPad(const SecretBytes& kek,
                                            absl::string_view wrapped);

// A PKCS#12 holding the private key (and, if not empty, its certificate,
// DER), encrypted with AES-256-CBC under PBKDF2-SHA256 from `password`, with
// an HMAC-SHA256 MAC. `friendly_name` labels the key bag.
absl::StatusOr<SecretBytes> MakePkcs12(const SecretBytes& pkcs8_der,
                                       absl::string_view certificate_der,
                                       const SecretBytes& password,
                                       absl::string_view friendly_name);

// The SubjectPublicKeyInfo (DER) of a PKCS#8 private key.
absl::StatusOr<std::string> PublicKeyOfPkcs8(const SecretBytes& pkcs8_der);

}  // namespace inkan::crypto

#endif  // INKAN_CRYPTO_KEY_TRANSPORT_H_
