#include "crypto/key_transport.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pkcs12.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <vector>

#include "absl/strings/str_cat.h"
#include "crypto/ssl_ptr.h"

namespace inkan::crypto {
namespace {

struct CipherCtxFree {
  void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};
struct PkeyCtxFree {
  void operator()(EVP_PKEY_CTX* c) const { EVP_PKEY_CTX_free(c); }
};
struct Pkcs8Free {
  void operator()(PKCS8_PRIV_KEY_INFO* p) const { PKCS8_PRIV_KEY_INFO_free(p); }
};
struct P12Free {
  void operator()(PKCS12* p) const { PKCS12_free(p); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;

absl::StatusOr<PkeyPtr> ParsePkcs8(const SecretBytes& pkcs8_der) {
  const unsigned char* p = pkcs8_der.Reveal().data();
  std::unique_ptr<PKCS8_PRIV_KEY_INFO, Pkcs8Free> info(d2i_PKCS8_PRIV_KEY_INFO(
      nullptr, &p, static_cast<long>(pkcs8_der.size())));
  if (info == nullptr) {
    return absl::InvalidArgumentError("not a PKCS#8 private key");
  }
  // SoftHSM 2.6 pads what it wraps with CKM_AES_KEY_WRAP_PAD to a multiple
  // of 8 bytes with zeros (inside the RFC 5649 padding); accept exactly that.
  const unsigned char* end = pkcs8_der.Reveal().data() + pkcs8_der.size();
  if (end - p >= 8) {
    return absl::InvalidArgumentError("bytes after the PKCS#8 private key");
  }
  for (; p != end; ++p) {
    if (*p != 0) {
      return absl::InvalidArgumentError("bytes after the PKCS#8 private key");
    }
  }
  PkeyPtr key(EVP_PKCS82PKEY(info.get()));
  if (key == nullptr) {
    return absl::InvalidArgumentError("the PKCS#8 private key does not parse");
  }
  return key;
}

// AES-256 key wrap with padding (RFC 5649), either way.
absl::StatusOr<SecretBytes> Kwp(const SecretBytes& kek,
                                absl::Span<const uint8_t> in, bool wrap) {
  if (kek.size() != 32) {
    return absl::InvalidArgumentError("the wrapping key must be 32 bytes");
  }
  std::unique_ptr<EVP_CIPHER_CTX, CipherCtxFree> ctx(EVP_CIPHER_CTX_new());
  if (ctx == nullptr) return absl::InternalError("EVP_CIPHER_CTX_new");
  EVP_CIPHER_CTX_set_flags(ctx.get(), EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
  if (EVP_CipherInit_ex(ctx.get(), EVP_aes_256_wrap_pad(), nullptr,
                        kek.Reveal().data(), nullptr, wrap ? 1 : 0) != 1) {
    return absl::InternalError("AES key wrap init failed");
  }
  SecretBytes out(in.size() + 16);
  int len = 0;
  if (EVP_CipherUpdate(ctx.get(), out.MutableData(), &len, in.data(),
                       static_cast<int>(in.size())) != 1 ||
      len < 0) {
    return absl::InvalidArgumentError(
        wrap ? "AES key wrap failed"
             : "the wrapped key does not open under this key (integrity "
               "check failed)");
  }
  int fin = 0;
  if (EVP_CipherFinal_ex(ctx.get(), out.MutableData() + len, &fin) != 1) {
    return absl::InvalidArgumentError("AES key wrap failed");
  }
  return SecretBytes(out.Reveal().subspan(0, static_cast<size_t>(len + fin)));
}

}  // namespace

absl::StatusOr<std::string> RsaAesKeyWrap(absl::string_view transport_spki_der,
                                          const SecretBytes& pkcs8_der) {
  const unsigned char* p =
      reinterpret_cast<const unsigned char*>(transport_spki_der.data());
  PkeyPtr pub(
      d2i_PUBKEY(nullptr, &p, static_cast<long>(transport_spki_der.size())));
  if (pub == nullptr || EVP_PKEY_get_base_id(pub.get()) != EVP_PKEY_RSA ||
      EVP_PKEY_get_bits(pub.get()) < 3072) {
    return absl::InvalidArgumentError(
        "the transport key is not an RSA public key of at least 3072 bits");
  }
  SecretBytes aes(32);
  if (RAND_bytes(aes.MutableData(), 32) != 1) {
    return absl::InternalError("RAND_bytes failed");
  }
  std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree> ctx(
      EVP_PKEY_CTX_new(pub.get(), nullptr));
  size_t head_len = 0;
  if (ctx == nullptr || EVP_PKEY_encrypt_init(ctx.get()) != 1 ||
      EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_OAEP_PADDING) != 1 ||
      EVP_PKEY_CTX_set_rsa_oaep_md(ctx.get(), EVP_sha1()) != 1 ||
      EVP_PKEY_CTX_set_rsa_mgf1_md(ctx.get(), EVP_sha1()) != 1 ||
      EVP_PKEY_encrypt(ctx.get(), nullptr, &head_len, aes.Reveal().data(),
                       aes.size()) != 1) {
    return absl::InternalError("RSA-OAEP setup failed");
  }
  std::string out(head_len, '\0');
  if (EVP_PKEY_encrypt(ctx.get(), reinterpret_cast<unsigned char*>(out.data()),
                       &head_len, aes.Reveal().data(), aes.size()) != 1) {
    return absl::InternalError("RSA-OAEP encryption failed");
  }
  out.resize(head_len);
  auto tail = Kwp(aes, pkcs8_der.Reveal(), /*wrap=*/true);
  if (!tail.ok()) return tail.status();
  const absl::string_view t = tail->RevealString();
  out.append(t.data(), t.size());
  return out;
}

absl::StatusOr<SecretBytes> AesKeyUnwrapPad(const SecretBytes& kek,
                                            absl::string_view wrapped) {
  if (wrapped.size() < 16 || wrapped.size() % 8 != 0) {
    return absl::InvalidArgumentError("not an RFC 5649 wrapped key");
  }
  return Kwp(
      kek,
      absl::Span<const uint8_t>(
          reinterpret_cast<const uint8_t*>(wrapped.data()), wrapped.size()),
      /*wrap=*/false);
}

absl::StatusOr<SecretBytes> MakePkcs12(const SecretBytes& pkcs8_der,
                                       absl::string_view certificate_der,
                                       const SecretBytes& password,
                                       absl::string_view friendly_name) {
  auto key = ParsePkcs8(pkcs8_der);
  if (!key.ok()) return key.status();
  std::unique_ptr<X509, X509Free> cert;
  if (!certificate_der.empty()) {
    const unsigned char* p =
        reinterpret_cast<const unsigned char*>(certificate_der.data());
    cert.reset(
        d2i_X509(nullptr, &p, static_cast<long>(certificate_der.size())));
    if (cert == nullptr) {
      return absl::InvalidArgumentError("the certificate does not parse");
    }
  }
  // PKCS12_create wants a C string; the password is copied into a
  // NUL-terminated SecretBytes and wiped with it.
  SecretBytes pass(password.Reveal());
  pass.Append(absl::string_view("\0", 1));
  std::string name(friendly_name);
  std::unique_ptr<PKCS12, P12Free> p12(PKCS12_create_ex(
      reinterpret_cast<const char*>(pass.Reveal().data()), name.c_str(),
      key->get(), cert.get(), nullptr, NID_aes_256_cbc, NID_aes_256_cbc,
      /*iter=*/600000, /*mac_iter=*/1, /*keytype=*/0, nullptr, nullptr));
  if (p12 == nullptr) return absl::InternalError("PKCS12_create failed");
  if (PKCS12_set_mac(p12.get(),
                     reinterpret_cast<const char*>(pass.Reveal().data()), -1,
                     nullptr, 0, 600000, EVP_sha256()) != 1) {
    return absl::InternalError("PKCS12_set_mac failed");
  }
  int len = i2d_PKCS12(p12.get(), nullptr);
  if (len <= 0) return absl::InternalError("i2d_PKCS12 failed");
  SecretBytes out(static_cast<size_t>(len));
  unsigned char* q = out.MutableData();
  if (i2d_PKCS12(p12.get(), &q) != len) {
    return absl::InternalError("i2d_PKCS12 failed");
  }
  return out;
}

absl::StatusOr<std::string> PublicKeyOfPkcs8(const SecretBytes& pkcs8_der) {
  auto key = ParsePkcs8(pkcs8_der);
  if (!key.ok()) return key.status();
  int len = i2d_PUBKEY(key->get(), nullptr);
  if (len <= 0) return absl::InternalError("i2d_PUBKEY failed");
  std::string out(static_cast<size_t>(len), '\0');
  unsigned char* q = reinterpret_cast<unsigned char*>(out.data());
  i2d_PUBKEY(key->get(), &q);
  return out;
}

}  // namespace inkan::crypto
