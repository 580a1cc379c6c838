// Signature and key encodings shared by the HSM and software backends.
#ifndef INKAN_CRYPTO_SIGNATURE_FORMAT_H_
#define INKAN_CRYPTO_SIGNATURE_FORMAT_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "crypto/algorithm.h"

namespace inkan::crypto {

// PKCS#11 CKM_ECDSA yields r||s (each half the length); X.509/CMS want DER
// ECDSA-Sig-Value. InvalidArgument on odd or empty input.
absl::StatusOr<std::string> EcdsaRawToDer(absl::string_view raw);

// The DER DigestInfo prefix (RFC 8017 §9.2 note 1) for PKCS#1 v1.5 over a
// precomputed digest with CKM_RSA_PKCS.
absl::string_view DigestInfoPrefix(HashAlgorithm h);

// PEM "PUBLIC KEY" text for a DER SubjectPublicKeyInfo.
absl::StatusOr<std::string> SpkiDerToPem(absl::string_view spki_der);

}  // namespace inkan::crypto

namespace inkan::crypto {

// SubjectPublicKeyInfo DER from the raw public values an HSM reports.
// `point` is the EC point (uncompressed, 0x04||X||Y) or, for Ed25519, the
// 32-byte key; a DER OCTET STRING around either is accepted and unwrapped
// (PKCS#11 CKA_EC_POINT). InvalidArgument if the values do not form a key.
absl::StatusOr<std::string> SpkiFromEcPoint(KeyAlgorithm alg,
                                            absl::string_view point);
absl::StatusOr<std::string> SpkiFromRsa(absl::string_view modulus,
                                        absl::string_view exponent);

}  // namespace inkan::crypto

#endif  // INKAN_CRYPTO_SIGNATURE_FORMAT_H_
