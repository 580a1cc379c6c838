#include "crypto/signature_format.h"

#include <openssl/pem.h>
#include <openssl/x509.h>

#include "crypto/signer.h"
#include "crypto/ssl_ptr.h"

namespace inkan::crypto {

absl::StatusOr<std::string> EcdsaRawToDer(absl::string_view raw) {
  if (raw.empty() || raw.size() % 2 != 0) {
    return absl::InvalidArgumentError("raw ECDSA signature has a bad length");
  }
  size_t half = raw.size() / 2;
  const auto* p = reinterpret_cast<const unsigned char*>(raw.data());
  BignumPtr r(BN_bin2bn(p, half, nullptr));
  BignumPtr s(BN_bin2bn(p + half, half, nullptr));
  EcdsaSigPtr sig(ECDSA_SIG_new());
  if (!r || !s || !sig || ECDSA_SIG_set0(sig.get(), r.get(), s.get()) != 1) {
    return absl::InternalError("ECDSA_SIG_set0 failed");
  }
  r.release();
  s.release();
  unsigned char* der = nullptr;
  int len = i2d_ECDSA_SIG(sig.get(), &der);
  if (len <= 0) return absl::InternalError("i2d_ECDSA_SIG failed");
  std::string out(reinterpret_cast<char*>(der), len);
  OPENSSL_free(der);
  return out;
}

absl::string_view DigestInfoPrefix(HashAlgorithm h) {
  static constexpr char kSha256[] =
      "\x30\x31\x30\x0d\x06\x09\x60\x86\x48\x01\x65\x03\x04\x02\x01\x05\x00\x04"
      "\x20";
  static constexpr char kSha384[] =
      "\x30\x41\x30\x0d\x06\x09\x60\x86\x48\x01\x65\x03\x04\x02\x02\x05\x00\x04"
      "\x30";
  static constexpr char kSha512[] =
      "\x30\x51\x30\x0d\x06\x09\x60\x86\x48\x01\x65\x03\x04\x02\x03\x05\x00\x04"
      "\x40";
  switch (h) {
    case HashAlgorithm::kSha256:
      return {kSha256, 19};
    case HashAlgorithm::kSha384:
      return {kSha384, 19};
    case HashAlgorithm::kSha512:
      return {kSha512, 19};
  }
  return {};
}

absl::StatusOr<std::string> SpkiDerToPem(absl::string_view spki_der) {
  const auto* p = reinterpret_cast<const unsigned char*>(spki_der.data());
  EvpPkeyPtr key(d2i_PUBKEY(nullptr, &p, spki_der.size()));
  if (!key) return absl::InvalidArgumentError("public key does not parse");
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (PEM_write_bio_PUBKEY(bio.get(), key.get()) != 1) {
    return absl::InternalError("PEM_write_bio_PUBKEY failed");
  }
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, len);
}

}  // namespace inkan::crypto

#include <openssl/core_names.h>
#include <openssl/param_build.h>

namespace inkan::crypto {
namespace {

// Strips a DER OCTET STRING header if `v` is exactly one OCTET STRING.
absl::string_view UnwrapOctetString(absl::string_view v) {
  if (v.size() >= 2 && static_cast<unsigned char>(v[0]) == 0x04) {
    size_t len = static_cast<unsigned char>(v[1]);
    size_t hdr = 2;
    if (len == 0x81 && v.size() >= 3) {
      len = static_cast<unsigned char>(v[2]);
      hdr = 3;
    }
    if (len < 0x80 || hdr == 3) {
      if (hdr + len == v.size()) return v.substr(hdr);
    }
  }
  return v;
}

absl::StatusOr<std::string> KeyToSpki(EVP_PKEY* key) {
  unsigned char* der = nullptr;
  int len = i2d_PUBKEY(key, &der);
  if (len <= 0) return absl::InternalError(SslErrorString());
  std::string out(reinterpret_cast<char*>(der), len);
  OPENSSL_free(der);
  return out;
}

absl::StatusOr<std::string> FromData(const char* type, OSSL_PARAM_BLD* bld) {
  OSSL_PARAM* params = OSSL_PARAM_BLD_to_param(bld);
  EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  EVP_PKEY* key = nullptr;
  bool ok =
      params != nullptr && ctx && EVP_PKEY_fromdata_init(ctx.get()) == 1 &&
      EVP_PKEY_fromdata(ctx.get(), &key, EVP_PKEY_PUBLIC_KEY, params) == 1;
  OSSL_PARAM_free(params);
  if (!ok) {
    SslErrorString();
    return absl::InvalidArgumentError("public key values do not form a key");
  }
  EvpPkeyPtr owned(key);
  return KeyToSpki(key);
}

}  // namespace

absl::StatusOr<std::string> SpkiFromEcPoint(KeyAlgorithm alg,
                                            absl::string_view point) {
  if (alg == KeyAlgorithm::kEd25519) {
    // A raw Ed25519 key is 32 bytes; 0x04 0x20 + 32 bytes is its OCTET STRING.
    absl::string_view raw =
        point.size() == 34 ? UnwrapOctetString(point) : point;
    EvpPkeyPtr key(EVP_PKEY_new_raw_public_key(
        EVP_PKEY_ED25519, nullptr,
        reinterpret_cast<const unsigned char*>(raw.data()), raw.size()));
    if (!key) {
      SslErrorString();
      return absl::InvalidArgumentError("bad Ed25519 public key");
    }
    return KeyToSpki(key.get());
  }
  if (!IsEc(alg)) return absl::InvalidArgumentError("not an EC algorithm");
  size_t want = alg == KeyAlgorithm::kEcP256 ? 65 : 97;
  absl::string_view raw =
      point.size() == want ? point : UnwrapOctetString(point);
  std::unique_ptr<OSSL_PARAM_BLD, void (*)(OSSL_PARAM_BLD*)> bld(
      OSSL_PARAM_BLD_new(), OSSL_PARAM_BLD_free);
  OSSL_PARAM_BLD_push_utf8_string(
      bld.get(), OSSL_PKEY_PARAM_GROUP_NAME,
      alg == KeyAlgorithm::kEcP256 ? "P-256" : "P-384", 0);
  OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY,
                                   raw.data(), raw.size());
  return FromData("EC", bld.get());
}

absl::StatusOr<std::string> SpkiFromRsa(absl::string_view modulus,
                                        absl::string_view exponent) {
  BignumPtr n(BN_bin2bn(reinterpret_cast<const unsigned char*>(modulus.data()),
                        modulus.size(), nullptr));
  BignumPtr e(BN_bin2bn(reinterpret_cast<const unsigned char*>(exponent.data()),
                        exponent.size(), nullptr));
  std::unique_ptr<OSSL_PARAM_BLD, void (*)(OSSL_PARAM_BLD*)> bld(
      OSSL_PARAM_BLD_new(), OSSL_PARAM_BLD_free);
  OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, n.get());
  OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, e.get());
  return FromData("RSA", bld.get());
}

}  // namespace inkan::crypto
