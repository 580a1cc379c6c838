#include "crypto/software_signer.h"

#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "absl/strings/str_cat.h"
#include "crypto/digest.h"
#include "crypto/ssl_ptr.h"

namespace inkan::crypto {
namespace {

EvpPkeyPtr Generate(KeyAlgorithm alg) {
  switch (alg) {
    case KeyAlgorithm::kEcP256:
      return EvpPkeyPtr(EVP_EC_gen("P-256"));
    case KeyAlgorithm::kEcP384:
      return EvpPkeyPtr(EVP_EC_gen("P-384"));
    case KeyAlgorithm::kRsa2048:
      return EvpPkeyPtr(EVP_RSA_gen(2048));
    case KeyAlgorithm::kRsa3072:
      return EvpPkeyPtr(EVP_RSA_gen(3072));
    case KeyAlgorithm::kRsa4096:
      return EvpPkeyPtr(EVP_RSA_gen(4096));
    case KeyAlgorithm::kEd25519:
      return EvpPkeyPtr(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
  }
  return nullptr;
}

absl::StatusOr<std::string> SignWithKey(EVP_PKEY* key,
                                        const SignatureScheme& scheme,
                                        absl::string_view digest) {
  const auto* in = reinterpret_cast<const unsigned char*>(digest.data());
  if (scheme.key == KeyAlgorithm::kEd25519) {
    EvpMdCtxPtr ctx(EVP_MD_CTX_new());
    size_t len = 64;
    std::string sig(len, '\0');
    if (EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key) != 1 ||
        EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()),
                       &len, in, digest.size()) != 1) {
      return absl::InternalError(SslErrorString());
    }
    sig.resize(len);
    return sig;
  }
  if (digest.size() != DigestLength(scheme.hash)) {
    return absl::InvalidArgumentError(
        "digest has the wrong length for the hash");
  }
  EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new(key, nullptr));
  if (!ctx || EVP_PKEY_sign_init(ctx.get()) != 1 ||
      EVP_PKEY_CTX_set_signature_md(ctx.get(), EvpMd(scheme.hash)) != 1) {
    return absl::InternalError(SslErrorString());
  }
  if (IsRsa(scheme.key) && scheme.padding == RsaPadding::kPss) {
    if (EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_PSS_PADDING) != 1 ||
        EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx.get(), RSA_PSS_SALTLEN_DIGEST) !=
            1 ||
        EVP_PKEY_CTX_set_rsa_mgf1_md(ctx.get(), EvpMd(scheme.hash)) != 1) {
      return absl::InternalError(SslErrorString());
    }
  }
  size_t len = 0;
  if (EVP_PKEY_sign(ctx.get(), nullptr, &len, in, digest.size()) != 1) {
    return absl::InternalError(SslErrorString());
  }
  std::string sig(len, '\0');
  if (EVP_PKEY_sign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()),
                    &len, in, digest.size()) != 1) {
    return absl::InternalError(SslErrorString());
  }
  sig.resize(len);
  return sig;
}

class OpenSslPrivateKey : public SoftwarePrivateKey {
 public:
  OpenSslPrivateKey(EvpPkeyPtr key, KeyAlgorithm alg, std::string spki)
      : key_(std::move(key)), alg_(alg), spki_(std::move(spki)) {}
  absl::StatusOr<std::string> Sign(const SignatureScheme& scheme,
                                   absl::string_view digest) const override {
    if (scheme.key != alg_) {
      return absl::InvalidArgumentError(
          absl::StrCat("this key is ", KeyAlgorithmName(alg_), ", not ",
                       KeyAlgorithmName(scheme.key)));
    }
    return SignWithKey(key_.get(), scheme, digest);
  }
  const std::string& public_key_der() const override { return spki_; }

 private:
  EvpPkeyPtr key_;
  KeyAlgorithm alg_;
  std::string spki_;
};

class SoftwareSigner : public Signer {
 public:
  SoftwareSigner(std::unique_ptr<SoftwarePrivateKey> key,
                 SignatureScheme scheme)
      : key_(std::move(key)), scheme_(scheme) {}
  absl::StatusOr<std::string> SignDigest(
      absl::string_view digest) const override {
    return key_->Sign(scheme_, digest);
  }
  const SignatureScheme& scheme() const override { return scheme_; }
  const std::string& public_key_der() const override {
    return key_->public_key_der();
  }

 private:
  std::unique_ptr<SoftwarePrivateKey> key_;
  SignatureScheme scheme_;
};

}  // namespace

absl::StatusOr<SecretBytes> GenerateSoftwareKey(KeyAlgorithm alg) {
  EvpPkeyPtr key = Generate(alg);
  if (!key) return absl::InternalError(SslErrorString());
  // PKCS#8 PrivateKeyInfo for every kind (i2d_PrivateKey would write SEC1
  // for EC and PKCS#1 for RSA).
  std::unique_ptr<PKCS8_PRIV_KEY_INFO, void (*)(PKCS8_PRIV_KEY_INFO*)> p8(
      EVP_PKEY2PKCS8(key.get()), PKCS8_PRIV_KEY_INFO_free);
  if (!p8) return absl::InternalError(SslErrorString());
  unsigned char* der = nullptr;
  int len = i2d_PKCS8_PRIV_KEY_INFO(p8.get(), &der);
  if (len <= 0) return absl::InternalError(SslErrorString());
  SecretBytes out(absl::MakeConstSpan(der, len));
  OPENSSL_clear_free(der, len);
  return out;
}

absl::StatusOr<std::unique_ptr<SoftwarePrivateKey>> ParseSoftwarePrivateKey(
    const SecretBytes& pkcs8_der, KeyAlgorithm alg) {
  const unsigned char* p = pkcs8_der.Reveal().data();
  EvpPkeyPtr key(d2i_AutoPrivateKey(nullptr, &p, pkcs8_der.size()));
  if (!key) {
    ERR_clear_error();
    return absl::InvalidArgumentError("private key does not parse");
  }
  unsigned char* spki = nullptr;
  int spki_len = i2d_PUBKEY(key.get(), &spki);
  if (spki_len <= 0) return absl::InternalError(SslErrorString());
  std::string spki_der(reinterpret_cast<char*>(spki), spki_len);
  OPENSSL_free(spki);
  // Reuse the verifier's check that the key is of the named kind.
  auto verifier = NewVerifier(spki_der, {alg, DefaultHash(alg)});
  if (!verifier.ok()) return verifier.status();
  return std::make_unique<OpenSslPrivateKey>(std::move(key), alg,
                                             std::move(spki_der));
}

absl::StatusOr<std::unique_ptr<Signer>> NewSoftwareSigner(
    const SecretBytes& pkcs8_der, const SignatureScheme& scheme) {
  auto key = ParseSoftwarePrivateKey(pkcs8_der, scheme.key);
  if (!key.ok()) return key.status();
  return std::make_unique<SoftwareSigner>(*std::move(key), scheme);
}

}  // namespace inkan::crypto
