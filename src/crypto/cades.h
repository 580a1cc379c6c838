// CAdES-B-B (ETSI EN 319 122-1) detached CMS signatures whose signature value
// is computed elsewhere: a remote signing service (or an HSM) that signs a
// hash and returns the raw signature. Building the signature takes two calls:
//
//   ASSIGN_OR_RETURN(CadesToBeSigned tbs, PrepareCades(request));
//   // send tbs.digest_to_sign to the signer, with request.scheme
//   ASSIGN_OR_RETURN(std::string p7s, FinishCades(tbs, signature));
//
// The result is a DER ContentInfo holding a SignedData (RFC 5652):
//  - version 1, one SignerInfo (version 1, issuerAndSerialNumber);
//  - eContentType id-data and no eContent (the content is detached);
//  - `certificates` holds the signer's certificate and the extra ones given;
//  - digestAlgorithm is scheme.hash (SHA-2, parameters absent);
//  - signed attributes: content-type (id-data), message-digest, signing-time
//    (UTCTime for 1950-2049, GeneralizedTime otherwise, whole seconds) and
//    signing-certificate-v2 (RFC 5035: one ESSCertIDv2 with the SHA-256 of
//    the signer's certificate, hashAlgorithm omitted as its DER default, and
//    IssuerSerial);
//  - signatureAlgorithm: ecdsa-with-SHA256/384/512 for EC keys,
//    sha{256,384,512}WithRSAEncryption for PKCS#1 v1.5, and id-RSASSA-PSS
//    with explicit parameters (hash, MGF1 with the same hash, salt length =
//    hash length, trailer field 1) for PSS.
//
// Both functions are pure (no I/O, no clock) and thread-safe. Ed25519 is
// refused with Unimplemented.
#ifndef INKAN_CRYPTO_CADES_H_
#define INKAN_CRYPTO_CADES_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "crypto/algorithm.h"

namespace inkan::crypto {

struct CadesRequest {
  // The digest of the detached content, computed with scheme.hash. (CMS
  // hashes the content and the signed attributes with the one
  // digestAlgorithm, so there is no separate content hash.)
  std::string content_digest;
  // How the signer signs: key kind, hash, and (RSA) padding. Must match the
  // key in signer_cert_der.
  SignatureScheme scheme;
  // The signer's X.509 certificate, DER.
  std::string signer_cert_der;
  // Further certificates (DER) to carry in `certificates`, e.g. the issuing
  // CA. Copies of the signer's certificate or of each other are dropped.
  std::vector<std::string> chain_der;
  // The signing-time attribute; sub-second precision is dropped.
  absl::Time signing_time;
};

// The state between the two phases. It is a plain value: it may be stored or
// sent away and back, since FinishCades rebuilds the signed attributes from
// `request` and refuses a CadesToBeSigned whose fields disagree.
struct CadesToBeSigned {
  // DER SignedAttributes (the SET OF form, tag 0x31) that the signature
  // covers.
  std::string signed_attributes_der;
  // scheme.hash of signed_attributes_der: what the remote signer signs (as
  // Signer::SignDigest would, with request.scheme).
  std::string digest_to_sign;
  CadesRequest request;
};

// Builds and checks the signed attributes. InvalidArgument if the
// certificates do not parse, the scheme does not match the signer's key, or
// content_digest is not of scheme.hash's length; Unimplemented for Ed25519.
absl::StatusOr<CadesToBeSigned> PrepareCades(const CadesRequest& request);

// Assembles the detached SignedData as a DER ContentInfo (a .p7s). The
// signature is a DER ECDSA-Sig-Value for EC keys and the raw k-byte value for
// RSA, as Signer::SignDigest returns them. It is verified against the
// certificate's key over the signed attributes first: InvalidArgument "the
// signature does not verify" if it does not, and InvalidArgument if `tbs`
// is not what PrepareCades returns for tbs.request.
absl::StatusOr<std::string> FinishCades(const CadesToBeSigned& tbs,
                                        absl::string_view signature);

}  // namespace inkan::crypto

#endif  // INKAN_CRYPTO_CADES_H_
