#include "ceremony/sealed_share.h"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/params.h>
#include <openssl/x509.h>

#include <cstring>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/encoding.h"
#include "common/status_macros.h"
#include "crypto/aead.h"
#include "crypto/digest.h"
#include "crypto/kdf.h"
#include "crypto/ssl_ptr.h"

namespace inkan::ceremony {
namespace {

using crypto::EvpPkeyCtxPtr;
using crypto::EvpPkeyPtr;
using crypto::SslErrorString;

constexpr uint8_t kVersion = 1;
constexpr absl::string_view kInfo = "inkan sealed share v1";
constexpr size_t kPointSize = 65;  // 0x04 || X (32) || Y (32)
constexpr size_t kKeyHashSize = 32;
constexpr size_t kLineLength = 64;
// Far more than any KEK share needs; bounds the work done on untrusted input.
constexpr size_t kMaxTextLength = 64 * 1024;

absl::string_view AsStringView(const unsigned char* data, size_t len) {
  return {reinterpret_cast<const char*>(data), len};
}

// InvalidArgument unless `key` is an EC key on P-256. `what` names the key.
absl::Status CheckP256(EVP_PKEY* key, absl::string_view what) {
  if (EVP_PKEY_is_a(key, "ED25519")) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the ", what,
        " is Ed25519; shares can only be sealed to P-256 keys, so give this "
        "custodian the printed share instead"));
  }
  char group[64] = {0};
  size_t group_len = 0;
  if (!EVP_PKEY_is_a(key, "EC") ||
      EVP_PKEY_get_group_name(key, group, sizeof(group), &group_len) != 1 ||
      OBJ_txt2nid(group) != NID_X9_62_prime256v1) {
    ERR_clear_error();
    return absl::InvalidArgumentError(
        absl::StrCat("the ", what, " is not an ECDSA P-256 key"));
  }
  return absl::OkStatus();
}

// Makes the key's public point encode uncompressed, whatever form it was read
// in, so that its SPKI DER (and hash) is canonical.
absl::Status UseUncompressedPoints(EVP_PKEY* key) {
  if (EVP_PKEY_set_utf8_string_param(
          key, OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT,
          OSSL_PKEY_EC_POINT_CONVERSION_FORMAT_UNCOMPRESSED) != 1) {
    return absl::InternalError(SslErrorString());
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> SpkiSha256(EVP_PKEY* key) {
  unsigned char* der = nullptr;
  const int len = i2d_PUBKEY(key, &der);
  if (len <= 0) return absl::InternalError(SslErrorString());
  std::string hash = crypto::Sha256(AsStringView(der, len));
  OPENSSL_free(der);
  return hash;
}

absl::StatusOr<std::string> EncodedPoint(EVP_PKEY* key) {
  std::string point(kPointSize, '\0');
  size_t len = 0;
  if (EVP_PKEY_get_octet_string_param(
          key, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY,
          reinterpret_cast<unsigned char*>(point.data()), point.size(),
          &len) != 1 ||
      len != kPointSize || point[0] != 0x04) {
    return absl::InternalError(
        absl::StrCat("cannot encode a P-256 point: ", SslErrorString()));
  }
  return point;
}

// A P-256 public key from an uncompressed point; OpenSSL checks that the point
// is on the curve. Null if it is not a valid point.
EvpPkeyPtr PublicKeyFromPoint(absl::string_view point) {
  if (point.size() != kPointSize || point[0] != 0x04) return nullptr;
  char group[] = "prime256v1";
  std::string pub(point);
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, group, 0),
      OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, pub.data(),
                                        pub.size()),
      OSSL_PARAM_construct_end()};
  EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
  EVP_PKEY* key = nullptr;
  if (!ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &key, EVP_PKEY_PUBLIC_KEY, params) != 1) {
    ERR_clear_error();
    return nullptr;
  }
  return EvpPkeyPtr(key);
}

// ECDH, then HKDF-SHA256 to an AES-256 key.
absl::StatusOr<SecretBytes> DeriveKey(EVP_PKEY* own_private, EVP_PKEY* peer,
                                      absl::string_view ephemeral_point,
                                      absl::string_view recipient_point) {
  EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new(own_private, nullptr));
  size_t len = 0;
  if (!ctx || EVP_PKEY_derive_init(ctx.get()) != 1 ||
      EVP_PKEY_derive_set_peer(ctx.get(), peer) != 1 ||
      EVP_PKEY_derive(ctx.get(), nullptr, &len) != 1) {
    return absl::InternalError(SslErrorString());
  }
  SecretBytes shared(len);
  if (EVP_PKEY_derive(ctx.get(), shared.MutableData(), &len) != 1 ||
      len != shared.size()) {
    return absl::InternalError(SslErrorString());
  }
  return crypto::HkdfSha256(shared,
                            absl::StrCat(ephemeral_point, recipient_point),
                            kInfo, crypto::kAeadKeySize);
}

// The parsed binary form. The views point into the decoded bytes.
struct Parsed {
  absl::string_view header;  // everything before the AEAD part: the AAD
  SealedShareInfo info;
  absl::string_view ephemeral_point;
  absl::string_view sealed;  // nonce || ciphertext || tag
};

absl::StatusOr<std::string> Unarmor(absl::string_view text) {
  if (text.size() > kMaxTextLength) {
    return absl::InvalidArgumentError("sealed share text is too long");
  }
  const size_t begin = text.find(kSealedShareBegin);
  if (begin == absl::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat(
        "not a sealed share: no \"", kSealedShareBegin, "\" line"));
  }
  const size_t body = begin + kSealedShareBegin.size();
  const size_t end = text.find(kSealedShareEnd, body);
  if (end == absl::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat(
        "sealed share is cut short: no \"", kSealedShareEnd, "\" line"));
  }
  std::string b64;
  for (char c : text.substr(body, end - body)) {
    if (!absl::ascii_isspace(static_cast<unsigned char>(c))) b64.push_back(c);
  }
  auto binary = Base64Decode(b64);
  if (!binary.ok()) {
    return absl::InvalidArgumentError("sealed share is not valid base64");
  }
  return *std::move(binary);
}

absl::StatusOr<Parsed> Parse(absl::string_view binary) {
  const auto truncated = [] {
    return absl::InvalidArgumentError("sealed share is truncated");
  };
  if (binary.size() < 2) return truncated();
  if (static_cast<uint8_t>(binary[0]) != kVersion) {
    return absl::InvalidArgumentError(
        absl::StrCat("sealed share has unsupported version ",
                     static_cast<uint8_t>(binary[0])));
  }
  const size_t id_len = static_cast<uint8_t>(binary[1]);
  const size_t header_len = 2 + id_len + 3 + kKeyHashSize + kPointSize;
  if (binary.size() < header_len + crypto::kAeadOverhead + 1) {
    return truncated();
  }
  Parsed p;
  size_t pos = 2;
  p.info.set_id = std::string(binary.substr(pos, id_len));
  pos += id_len;
  p.info.threshold = static_cast<uint8_t>(binary[pos++]);
  p.info.share_count = static_cast<uint8_t>(binary[pos++]);
  p.info.index = static_cast<uint8_t>(binary[pos++]);
  p.info.recipient_key_sha256 = std::string(binary.substr(pos, kKeyHashSize));
  pos += kKeyHashSize;
  p.ephemeral_point = binary.substr(pos, kPointSize);
  pos += kPointSize;
  p.header = binary.substr(0, pos);
  p.sealed = binary.substr(pos);
  return p;
}

std::string Armor(absl::string_view binary) {
  const std::string b64 = Base64Encode(binary);
  std::string out = absl::StrCat(kSealedShareBegin, "\n");
  for (size_t i = 0; i < b64.size(); i += kLineLength) {
    absl::StrAppend(&out, absl::string_view(b64).substr(i, kLineLength), "\n");
  }
  absl::StrAppend(&out, kSealedShareEnd, "\n");
  return out;
}

}  // namespace

absl::StatusOr<std::string> SealShare(const Share& share,
                                      absl::string_view recipient_spki_der) {
  RETURN_IF_ERROR(ValidateShare(share));
  const auto* p =
      reinterpret_cast<const unsigned char*>(recipient_spki_der.data());
  EvpPkeyPtr recipient(d2i_PUBKEY(nullptr, &p, recipient_spki_der.size()));
  if (!recipient ||
      p != reinterpret_cast<const unsigned char*>(recipient_spki_der.data()) +
               recipient_spki_der.size()) {
    ERR_clear_error();
    return absl::InvalidArgumentError(
        "the recipient key is not a DER SubjectPublicKeyInfo");
  }
  RETURN_IF_ERROR(CheckP256(recipient.get(), "recipient key"));
  RETURN_IF_ERROR(UseUncompressedPoints(recipient.get()));
  ASSIGN_OR_RETURN(std::string recipient_hash, SpkiSha256(recipient.get()));
  ASSIGN_OR_RETURN(std::string recipient_point, EncodedPoint(recipient.get()));

  EvpPkeyPtr ephemeral(EVP_EC_gen("P-256"));
  if (!ephemeral) return absl::InternalError(SslErrorString());
  ASSIGN_OR_RETURN(std::string ephemeral_point, EncodedPoint(ephemeral.get()));
  ASSIGN_OR_RETURN(SecretBytes key,
                   DeriveKey(ephemeral.get(), recipient.get(), ephemeral_point,
                             recipient_point));
  ephemeral.reset();  // the ephemeral private key is no longer needed

  std::string header;
  header.push_back(static_cast<char>(kVersion));
  header.push_back(static_cast<char>(share.set_id.size()));
  header.append(share.set_id);
  header.push_back(static_cast<char>(share.threshold));
  header.push_back(static_cast<char>(share.share_count));
  header.push_back(static_cast<char>(share.index));
  header.append(recipient_hash);
  header.append(ephemeral_point);
  ASSIGN_OR_RETURN(std::string sealed,
                   crypto::AeadSeal(key, share.value, header));
  return Armor(absl::StrCat(header, sealed));
}

absl::StatusOr<Share> OpenSealedShare(
    absl::string_view text, const SecretBytes& recipient_pkcs8_private_key) {
  ASSIGN_OR_RETURN(const std::string binary, Unarmor(text));
  ASSIGN_OR_RETURN(const Parsed parsed, Parse(binary));

  const unsigned char* p = recipient_pkcs8_private_key.Reveal().data();
  EvpPkeyPtr own(
      d2i_AutoPrivateKey(nullptr, &p, recipient_pkcs8_private_key.size()));
  if (!own) {
    ERR_clear_error();
    return absl::InvalidArgumentError(
        "the private key is not a PKCS#8 DER private key");
  }
  RETURN_IF_ERROR(CheckP256(own.get(), "private key"));
  RETURN_IF_ERROR(UseUncompressedPoints(own.get()));
  ASSIGN_OR_RETURN(std::string own_hash, SpkiSha256(own.get()));
  if (own_hash != parsed.info.recipient_key_sha256) {
    return absl::UnauthenticatedError(absl::StrCat(
        "this sealed share (share ", parsed.info.index, " of set ",
        absl::CHexEscape(parsed.info.set_id),
        ") is sealed to another key, or was altered: it names key SHA-256 ",
        HexEncode(parsed.info.recipient_key_sha256), ", not ",
        HexEncode(own_hash)));
  }
  ASSIGN_OR_RETURN(std::string own_point, EncodedPoint(own.get()));
  EvpPkeyPtr ephemeral = PublicKeyFromPoint(parsed.ephemeral_point);
  if (!ephemeral) {
    return absl::UnauthenticatedError(
        "sealed share was altered: its ephemeral key is not a P-256 point");
  }
  ASSIGN_OR_RETURN(
      SecretBytes key,
      DeriveKey(own.get(), ephemeral.get(), parsed.ephemeral_point, own_point));
  auto value = crypto::AeadOpen(key, parsed.sealed, parsed.header);
  if (!value.ok()) {
    if (absl::IsUnauthenticated(value.status())) {
      return absl::UnauthenticatedError(
          "sealed share was altered (it does not authenticate under this "
          "key)");
    }
    return value.status();
  }

  Share share;
  share.index = parsed.info.index;
  share.threshold = parsed.info.threshold;
  share.share_count = parsed.info.share_count;
  share.set_id = parsed.info.set_id;
  share.value = *std::move(value);
  RETURN_IF_ERROR(ValidateShare(share));
  return share;
}

absl::StatusOr<SealedShareInfo> InspectSealedShare(absl::string_view text) {
  ASSIGN_OR_RETURN(const std::string binary, Unarmor(text));
  ASSIGN_OR_RETURN(Parsed parsed, Parse(binary));
  return std::move(parsed.info);
}

}  // namespace inkan::ceremony
