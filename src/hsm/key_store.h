// KeyStore: where private keys live and are used (R1, R2, R3).
//
// A KeyStore holds three system keys, created once by Initialize():
//   - the master KEK (AES-256, non-extractable): user keys leave the key
//     store only wrapped under it;
//   - the pepper (HMAC-SHA256 key, non-extractable): mixes every PIN-derived
//     value with a secret that never leaves the HSM, so guessing PINs offline
//     needs the HSM;
//   - the audit key (ECDSA P-256, non-extractable): signs audit checkpoints.
// A user key is generated inside the key store and handed out only as a blob
// wrapped under the master KEK (GenerateWrappedKey). To sign, the blob is
// unwrapped into a temporary, non-extractable object (Activate); destroying
// the ActiveKey destroys that object. Sealing the wrapped blob under the
// user's factors is done above this layer (src/sam).
//
// Backends: "pkcs11" (any PKCS#11 module; SoftHSMv2 by default) and
// "software" (OpenSSL in process memory; provisional — R2 — and off unless
// configured).
//
// Thread-safety: all methods may be called from many threads. An ActiveKey
// may be used from many threads too (calls are serialised on it).
#ifndef INKAN_HSM_KEY_STORE_H_
#define INKAN_HSM_KEY_STORE_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/secret_bytes.h"
#include "crypto/algorithm.h"
#include "crypto/signer.h"

namespace inkan::hsm {

struct WrappedKey {
  std::string public_key_der;  // SubjectPublicKeyInfo
  SecretBytes wrapped;         // the private key wrapped under the master KEK
};

// A user key unwrapped for signing. Destruction destroys the key object.
class ActiveKey {
 public:
  virtual ~ActiveKey() = default;
  // Signs a digest made with scheme.hash (Ed25519: the bytes to sign).
  // InvalidArgument if scheme.key is not this key's algorithm or the digest
  // length is wrong.
  virtual absl::StatusOr<std::string> Sign(
      const crypto::SignatureScheme& scheme, absl::string_view digest) = 0;
  virtual crypto::KeyAlgorithm algorithm() const = 0;
};

class KeyStore {
 public:
  virtual ~KeyStore() = default;

  virtual absl::string_view backend() const = 0;  // "pkcs11" or "software"
  // True for the software backend: keys not in certified hardware (R2).
  virtual bool provisional() const = 0;

  // Creates the system keys. AlreadyExists if any of them already exists.
  virtual absl::Status Initialize() = 0;
  // FailedPrecondition naming what is missing if the system keys are not all
  // there (e.g. a key store that was never initialised).
  virtual absl::Status CheckSystemKeys() = 0;

  // Generates a key pair of `alg` and returns it wrapped under the master
  // KEK. No copy of the private key remains in the key store.
  virtual absl::StatusOr<WrappedKey> GenerateWrappedKey(
      crypto::KeyAlgorithm alg) = 0;

  // Unwraps `wrapped` into a non-extractable, temporary key object.
  // InvalidArgument if the blob is not one this key store wrapped. The
  // ActiveKey may outlive the KeyStore (it keeps what it needs alive).
  virtual absl::StatusOr<std::unique_ptr<ActiveKey>> Activate(
      crypto::KeyAlgorithm alg, const SecretBytes& wrapped) = 0;

  // Keys under a KEK held *outside* the key store (the CA KEK, split among
  // custodians with Shamir's scheme): the 32-byte KEK enters the key store
  // only as a temporary, sensitive, non-extractable object for this one call
  // and can unwrap only into sensitive, non-extractable objects.
  // InvalidArgument for a KEK that is not 32 bytes or a blob not made under it.
  virtual absl::StatusOr<WrappedKey> GenerateKeyWrappedUnder(
      crypto::KeyAlgorithm alg, const SecretBytes& kek) = 0;
  virtual absl::StatusOr<std::unique_ptr<ActiveKey>> ActivateWithKek(
      crypto::KeyAlgorithm alg, const SecretBytes& wrapped,
      const SecretBytes& kek) = 0;

  // ---- The CA key (R6, R7, R8) ----
  // The CA key's inner layer is wrapped under its own system key, the CA KEK
  // (kCaKekLabel), made on first use. Unlike the master KEK, what it unwraps
  // may be made extractable — never readable (always sensitive), only
  // re-wrappable — so that a quorum can copy the CA key to a backup token
  // (ExportCaKey); user keys stay under the master KEK, which never allows
  // that. Destroying the CA KEK (DestroyCaKek) makes every wrapped copy of the
  // CA key on this HSM useless, including copies in old database backups.
  // The defaults (for backends without such a key, e.g. the provisional
  // software one) use the master KEK and cannot export.
  virtual absl::StatusOr<WrappedKey> GenerateCaKey(crypto::KeyAlgorithm alg) {
    return GenerateWrappedKey(alg);
  }
  // A non-extractable session object, as Activate. FailedPrecondition if
  // this HSM has no CA KEK (destroyed, or never made here).
  virtual absl::StatusOr<std::unique_ptr<ActiveKey>> ActivateCaKey(
      crypto::KeyAlgorithm alg, const SecretBytes& wrapped) {
    return Activate(alg, wrapped);
  }
  // The CA key (`wrapped` under the CA KEK) wrapped for an RSA transport key
  // (`transport_spki`, RSA >= 3072 bits) in the CKM_RSA_AES_KEY_WRAP format:
  // RSA-OAEP (SHA-1, as SoftHSM 2.6 supports) of a fresh AES-256 key, then that
  // key's AES key wrap with padding (RFC 5649) of the private key. Only a
  // TransportKey of another HSM can open it.
  virtual absl::StatusOr<SecretBytes> ExportCaKey(
      crypto::KeyAlgorithm alg, const SecretBytes& wrapped,
      absl::string_view transport_spki) {
    return absl::UnimplementedError(
        "this key store cannot copy the CA key to another HSM (needs "
        "PKCS#11)");
  }
  class TransportKey {
   public:
    virtual ~TransportKey() = default;
    // RSA-3072 SubjectPublicKeyInfo (DER).
    virtual const std::string& public_key_der() const = 0;
    // Opens an ExportCaKey blob inside the HSM and re-wraps the key under
    // this HSM's CA KEK (made if missing). InvalidArgument for a blob that
    // was not made for this transport key.
    virtual absl::StatusOr<SecretBytes> ImportCaKey(
        crypto::KeyAlgorithm alg, const SecretBytes& blob) = 0;
  };
  // A fresh RSA-3072 key pair whose private half exists only as a session
  // object that can unwrap and do nothing else; gone when the TransportKey is.
  virtual absl::StatusOr<std::unique_ptr<TransportKey>> NewTransportKey() {
    return absl::UnimplementedError(
        "this key store cannot receive a CA key from another HSM (needs "
        "PKCS#11)");
  }
  // ---- Keys made by their owners and sent in (enrollment path B, R10) ----
  // The HSM's enrollment transport key: RSA-3072, a token object made on
  // first use (label kEnrollTransportLabel) whose private half is sensitive,
  // non-extractable and can only unwrap. Returns its SubjectPublicKeyInfo.
  virtual absl::StatusOr<std::string> EnrollTransportKey() {
    return absl::UnimplementedError(
        "this key store has no transport key for user-made keys (needs "
        "PKCS#11)");
  }
  // Opens, inside the HSM, a CKM_RSA_AES_KEY_WRAP blob made for the transport
  // key (RSA-OAEP/SHA-1 of a fresh AES-256 key, then RFC 5649 key wrap of the
  // PKCS#8 private key) and returns the key wrapped under the master KEK, as
  // GenerateWrappedKey does. The key is never in the clear outside the HSM;
  // the public key is not derived here (the caller checks the key against the
  // public key it was given by signing with it). InvalidArgument for a blob
  // not made for this transport key or not a key of `alg`.
  virtual absl::StatusOr<SecretBytes> ImportUserKey(crypto::KeyAlgorithm alg,
                                                    const SecretBytes& blob) {
    return absl::UnimplementedError(
        "this key store cannot receive user-made keys (needs PKCS#11)");
  }

  // ---- A key delivered to its owner (enrollment path C, R11) ----
  // A new key pair made in the key store and handed out once, as PKCS#8 (the
  // caller delivers it and wipes it); the key store keeps no object of it.
  struct DeliveredKey {
    std::string public_key_der;
    SecretBytes pkcs8;  // may end in up to 7 zero bytes (SoftHSM's padding)
  };
  virtual absl::StatusOr<DeliveredKey> GenerateForDelivery(
      crypto::KeyAlgorithm alg) {
    return absl::UnimplementedError("this key store cannot deliver keys");
  }

  // Destroys the CA KEK; returns how many objects were destroyed (0 if there
  // was none).
  virtual absl::StatusOr<int> DestroyCaKek() { return 0; }

  // Small private data objects on the token (the backup token's record of
  // the CA key in custody). Put replaces; Get is NotFound if absent; Remove
  // returns how many objects it destroyed.
  virtual absl::Status PutRecord(absl::string_view label,
                                 absl::string_view value) {
    return absl::UnimplementedError("this key store keeps no records");
  }
  virtual absl::StatusOr<std::string> GetRecord(absl::string_view label) {
    return absl::UnimplementedError("this key store keeps no records");
  }
  virtual absl::StatusOr<int> RemoveRecord(absl::string_view label) {
    return absl::UnimplementedError("this key store keeps no records");
  }

  // HMAC-SHA256(pepper, input), computed inside the key store.
  virtual absl::StatusOr<SecretBytes> Pepper(const SecretBytes& input) = 0;

  // The audit checkpoint signer (ECDSA P-256 / SHA-256). Owned by the key
  // store; valid while it lives. FailedPrecondition before Initialize().
  virtual absl::StatusOr<const crypto::Signer*> AuditSigner() = 0;
};

}  // namespace inkan::hsm

#endif  // INKAN_HSM_KEY_STORE_H_
