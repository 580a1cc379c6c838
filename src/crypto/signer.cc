#include "crypto/signer.h"

#include <openssl/err.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "absl/strings/str_cat.h"
#include "crypto/digest.h"
#include "crypto/ssl_ptr.h"

namespace inkan::crypto {

std::string SslErrorString() {
  unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return "unknown OpenSSL error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof(buf));
  return buf;
}

namespace {

// Checks that an OpenSSL key is of the kind the scheme names.
absl::Status CheckKeyMatches(EVP_PKEY* key, KeyAlgorithm alg) {
  bool ok = false;
  switch (alg) {
    case KeyAlgorithm::kEcP256:
      ok = EVP_PKEY_is_a(key, "EC") && EVP_PKEY_get_bits(key) == 256;
      break;
    case KeyAlgorithm::kEcP384:
      ok = EVP_PKEY_is_a(key, "EC") && EVP_PKEY_get_bits(key) == 384;
      break;
    case KeyAlgorithm::kRsa2048:
      ok = EVP_PKEY_is_a(key, "RSA") && EVP_PKEY_get_bits(key) == 2048;
      break;
    case KeyAlgorithm::kRsa3072:
      ok = EVP_PKEY_is_a(key, "RSA") && EVP_PKEY_get_bits(key) == 3072;
      break;
    case KeyAlgorithm::kRsa4096:
      ok = EVP_PKEY_is_a(key, "RSA") && EVP_PKEY_get_bits(key) == 4096;
      break;
    case KeyAlgorithm::kEd25519:
      ok = EVP_PKEY_is_a(key, "ED25519");
      break;
  }
  if (!ok) {
    return absl::InvalidArgumentError(
        absl::StrCat("key is not ", KeyAlgorithmName(alg)));
  }
  return absl::OkStatus();
}

class OpenSslVerifier : public Verifier {
 public:
  OpenSslVerifier(EvpPkeyPtr key, SignatureScheme scheme)
      : key_(std::move(key)), scheme_(scheme) {}

  absl::Status VerifyDigest(absl::string_view digest,
                            absl::string_view signature) const override {
    const auto* sig = reinterpret_cast<const unsigned char*>(signature.data());
    const auto* msg = reinterpret_cast<const unsigned char*>(digest.data());
    if (scheme_.key == KeyAlgorithm::kEd25519) {
      EvpMdCtxPtr ctx(EVP_MD_CTX_new());
      if (EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr,
                               key_.get()) != 1) {
        return absl::InternalError(SslErrorString());
      }
      if (EVP_DigestVerify(ctx.get(), sig, signature.size(), msg,
                           digest.size()) != 1) {
        ERR_clear_error();
        return absl::InvalidArgumentError("Ed25519 signature does not verify");
      }
      return absl::OkStatus();
    }
    if (digest.size() != DigestLength(scheme_.hash)) {
      return absl::InvalidArgumentError("digest has the wrong length");
    }
    EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new(key_.get(), nullptr));
    if (!ctx || EVP_PKEY_verify_init(ctx.get()) != 1 ||
        EVP_PKEY_CTX_set_signature_md(ctx.get(), EvpMd(scheme_.hash)) != 1) {
      return absl::InternalError(SslErrorString());
    }
    if (IsRsa(scheme_.key) && scheme_.padding == RsaPadding::kPss) {
      if (EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_PSS_PADDING) != 1 ||
          EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx.get(), RSA_PSS_SALTLEN_DIGEST) !=
              1 ||
          EVP_PKEY_CTX_set_rsa_mgf1_md(ctx.get(), EvpMd(scheme_.hash)) != 1) {
        return absl::InternalError(SslErrorString());
      }
    }
    if (EVP_PKEY_verify(ctx.get(), sig, signature.size(), msg, digest.size()) !=
        1) {
      ERR_clear_error();
      return absl::InvalidArgumentError("signature does not verify");
    }
    return absl::OkStatus();
  }

 private:
  EvpPkeyPtr key_;
  SignatureScheme scheme_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Verifier>> NewVerifier(
    absl::string_view spki_der, const SignatureScheme& scheme) {
  const auto* p = reinterpret_cast<const unsigned char*>(spki_der.data());
  EvpPkeyPtr key(d2i_PUBKEY(nullptr, &p, spki_der.size()));
  if (!key || p != reinterpret_cast<const unsigned char*>(spki_der.data()) +
                       spki_der.size()) {
    ERR_clear_error();
    return absl::InvalidArgumentError(
        "public key is not a DER SubjectPublicKeyInfo");
  }
  auto st = CheckKeyMatches(key.get(), scheme.key);
  if (!st.ok()) return st;
  return std::make_unique<OpenSslVerifier>(std::move(key), scheme);
}

absl::StatusOr<std::string> SignMessage(const Signer& signer,
                                        absl::string_view message) {
  if (signer.scheme().key == KeyAlgorithm::kEd25519) {
    return signer.SignDigest(message);
  }
  return signer.SignDigest(Digest(signer.scheme().hash, message));
}

absl::Status VerifyMessage(const Verifier& verifier,
                           const SignatureScheme& scheme,
                           absl::string_view message,
                           absl::string_view signature) {
  if (scheme.key == KeyAlgorithm::kEd25519) {
    return verifier.VerifyDigest(message, signature);
  }
  return verifier.VerifyDigest(Digest(scheme.hash, message), signature);
}

}  // namespace inkan::crypto
