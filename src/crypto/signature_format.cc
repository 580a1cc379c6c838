#include "crypto/signature_format.h"

#include <openssl/pem.h>
#include <openssl/x509.h>

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
