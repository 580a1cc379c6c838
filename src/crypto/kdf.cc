#include "crypto/kdf.h"

#include <argon2.h>
#include <openssl/kdf.h>

#include "absl/strings/str_cat.h"
#include "crypto/ssl_ptr.h"

namespace inkan::crypto {

absl::StatusOr<SecretBytes> Argon2id(const SecretBytes& password,
                                     absl::string_view salt,
                                     const Argon2Params& params,
                                     size_t out_len) {
  SecretBytes out(out_len);
  int rc =
      argon2id_hash_raw(params.t_cost, params.m_cost_kib, params.parallelism,
                        password.Reveal().data(), password.size(), salt.data(),
                        salt.size(), out.MutableData(), out_len);
  if (rc != ARGON2_OK) {
    return absl::InvalidArgumentError(
        absl::StrCat("argon2id: ", argon2_error_message(rc)));
  }
  return out;
}

absl::StatusOr<SecretBytes> HkdfSha256(const SecretBytes& ikm,
                                       absl::string_view salt,
                                       absl::string_view info, size_t out_len) {
  EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, nullptr));
  SecretBytes out(out_len);
  size_t len = out_len;
  if (!ctx || EVP_PKEY_derive_init(ctx.get()) != 1 ||
      EVP_PKEY_CTX_set_hkdf_md(ctx.get(), EVP_sha256()) != 1 ||
      EVP_PKEY_CTX_set1_hkdf_salt(
          ctx.get(), reinterpret_cast<const unsigned char*>(salt.data()),
          salt.size()) != 1 ||
      EVP_PKEY_CTX_set1_hkdf_key(ctx.get(), ikm.Reveal().data(), ikm.size()) !=
          1 ||
      EVP_PKEY_CTX_add1_hkdf_info(
          ctx.get(), reinterpret_cast<const unsigned char*>(info.data()),
          info.size()) != 1 ||
      EVP_PKEY_derive(ctx.get(), out.MutableData(), &len) != 1) {
    return absl::InternalError(SslErrorString());
  }
  return out;
}

}  // namespace inkan::crypto
