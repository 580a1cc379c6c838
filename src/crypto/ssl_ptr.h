// unique_ptr aliases for OpenSSL objects (Tink's SslUniquePtr).
#ifndef INKAN_CRYPTO_SSL_PTR_H_
#define INKAN_CRYPTO_SSL_PTR_H_

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>

#include <memory>

namespace inkan::crypto {

template <typename T, void (*F)(T*)>
struct SslDeleter {
  void operator()(T* p) const { F(p); }
};

using EvpPkeyPtr =
    std::unique_ptr<EVP_PKEY, SslDeleter<EVP_PKEY, EVP_PKEY_free>>;
using EvpPkeyCtxPtr =
    std::unique_ptr<EVP_PKEY_CTX, SslDeleter<EVP_PKEY_CTX, EVP_PKEY_CTX_free>>;
using EvpMdCtxPtr =
    std::unique_ptr<EVP_MD_CTX, SslDeleter<EVP_MD_CTX, EVP_MD_CTX_free>>;
using EvpCipherCtxPtr =
    std::unique_ptr<EVP_CIPHER_CTX,
                    SslDeleter<EVP_CIPHER_CTX, EVP_CIPHER_CTX_free>>;
using BioPtr = std::unique_ptr<BIO, SslDeleter<BIO, BIO_free_all>>;
using BignumPtr = std::unique_ptr<BIGNUM, SslDeleter<BIGNUM, BN_free>>;
using EcdsaSigPtr =
    std::unique_ptr<ECDSA_SIG, SslDeleter<ECDSA_SIG, ECDSA_SIG_free>>;

// The last OpenSSL error as text (and clears the queue).
std::string SslErrorString();

}  // namespace inkan::crypto

#endif  // INKAN_CRYPTO_SSL_PTR_H_
