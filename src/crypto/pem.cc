#include "crypto/pem.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "crypto/ssl_ptr.h"

namespace inkan::crypto {

absl::StatusOr<SecretBytes> PrivateKeyPemToPkcs8(absl::string_view pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  EvpPkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!key) {
    ERR_clear_error();
    return absl::InvalidArgumentError("not an unencrypted PEM private key");
  }
  // PKCS#8 PrivateKeyInfo (i2d_PrivateKey would give SEC1 for EC keys).
  std::unique_ptr<PKCS8_PRIV_KEY_INFO, decltype(&PKCS8_PRIV_KEY_INFO_free)> p8(
      EVP_PKEY2PKCS8(key.get()), PKCS8_PRIV_KEY_INFO_free);
  if (!p8) return absl::InternalError(SslErrorString());
  unsigned char* der = nullptr;
  int len = i2d_PKCS8_PRIV_KEY_INFO(p8.get(), &der);
  if (len <= 0) return absl::InternalError(SslErrorString());
  SecretBytes out(absl::MakeConstSpan(der, len));
  OPENSSL_clear_free(der, len);
  return out;
}

absl::StatusOr<std::string> PublicKeyToDer(absl::string_view pem_or_der) {
  BioPtr bio(
      BIO_new_mem_buf(pem_or_der.data(), static_cast<int>(pem_or_der.size())));
  EvpPkeyPtr key(PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
  if (!key) {
    ERR_clear_error();
    const auto* p = reinterpret_cast<const unsigned char*>(pem_or_der.data());
    key.reset(d2i_PUBKEY(nullptr, &p, static_cast<long>(pem_or_der.size())));
  }
  if (!key) {
    ERR_clear_error();
    return absl::InvalidArgumentError("not a PEM or DER public key");
  }
  unsigned char* der = nullptr;
  int len = i2d_PUBKEY(key.get(), &der);
  if (len <= 0) return absl::InternalError(SslErrorString());
  std::string out(reinterpret_cast<char*>(der), len);
  OPENSSL_free(der);
  return out;
}

absl::StatusOr<std::string> CertificateToDer(absl::string_view pem_or_der) {
  BioPtr bio(
      BIO_new_mem_buf(pem_or_der.data(), static_cast<int>(pem_or_der.size())));
  X509* x = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr);
  if (x == nullptr) {
    ERR_clear_error();
    const auto* p = reinterpret_cast<const unsigned char*>(pem_or_der.data());
    x = d2i_X509(nullptr, &p, static_cast<long>(pem_or_der.size()));
  }
  if (x == nullptr) {
    ERR_clear_error();
    return absl::InvalidArgumentError("not a certificate (PEM or DER)");
  }
  unsigned char* der = nullptr;
  int len = i2d_X509(x, &der);
  X509_free(x);
  if (len <= 0) return absl::InternalError("i2d_X509 failed");
  std::string out(reinterpret_cast<char*>(der), len);
  OPENSSL_free(der);
  return out;
}

}  // namespace inkan::crypto
