#include "crypto/aead.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "crypto/ssl_ptr.h"

namespace inkan::crypto {

absl::StatusOr<std::string> AeadSeal(const SecretBytes& key,
                                     const SecretBytes& plaintext,
                                     absl::string_view aad) {
  if (key.size() != kAeadKeySize)
    return absl::InvalidArgumentError("AEAD key must be 32 bytes");
  std::string out(12 + plaintext.size() + 16, '\0');
  auto* o = reinterpret_cast<unsigned char*>(out.data());
  if (RAND_bytes(o, 12) != 1) return absl::InternalError("RAND_bytes failed");
  EvpCipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  if (EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr,
                         key.Reveal().data(), o) != 1 ||
      EVP_EncryptUpdate(ctx.get(), nullptr, &len,
                        reinterpret_cast<const unsigned char*>(aad.data()),
                        aad.size()) != 1 ||
      EVP_EncryptUpdate(ctx.get(), o + 12, &len, plaintext.Reveal().data(),
                        plaintext.size()) != 1 ||
      EVP_EncryptFinal_ex(ctx.get(), o + 12 + len, &len) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, 16,
                          o + 12 + plaintext.size()) != 1) {
    return absl::InternalError(SslErrorString());
  }
  return out;
}

absl::StatusOr<SecretBytes> AeadOpen(const SecretBytes& key,
                                     absl::string_view sealed,
                                     absl::string_view aad) {
  if (key.size() != kAeadKeySize)
    return absl::InvalidArgumentError("AEAD key must be 32 bytes");
  if (sealed.size() < kAeadOverhead)
    return absl::InvalidArgumentError("sealed blob is truncated");
  const auto* s = reinterpret_cast<const unsigned char*>(sealed.data());
  size_t ct_len = sealed.size() - kAeadOverhead;
  SecretBytes out(ct_len);
  EvpCipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  unsigned char tag[16];
  std::copy(s + 12 + ct_len, s + 12 + ct_len + 16, tag);
  if (EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr,
                         key.Reveal().data(), s) != 1 ||
      EVP_DecryptUpdate(ctx.get(), nullptr, &len,
                        reinterpret_cast<const unsigned char*>(aad.data()),
                        aad.size()) != 1 ||
      EVP_DecryptUpdate(ctx.get(), out.MutableData(), &len, s + 12, ct_len) !=
          1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, 16, tag) != 1) {
    return absl::InternalError(SslErrorString());
  }
  if (EVP_DecryptFinal_ex(ctx.get(), out.MutableData() + len, &len) != 1) {
    return absl::UnauthenticatedError("sealed data did not authenticate");
  }
  return out;
}

}  // namespace inkan::crypto
