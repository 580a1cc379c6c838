#include "sam/sealed_key.h"

#include "absl/base/internal/endian.h"
#include "absl/strings/str_cat.h"
#include "common/encoding.h"
#include "common/random.h"
#include "common/status_macros.h"
#include "crypto/aead.h"
#include "crypto/digest.h"

namespace inkan::sam {
namespace {

// Header: magic(6) "INKSK1" | t_cost(4) | m_cost_kib(4) | lanes(4) | flags(1)
//         | salt(16)  — 35 bytes, big-endian integers.
constexpr absl::string_view kMagic = "INKSK1";
constexpr size_t kSaltLen = 16;
constexpr size_t kHeaderLen = 6 + 4 + 4 + 4 + 1 + kSaltLen;
constexpr uint8_t kFlagPossession = 0x01;

void PutU32(std::string* out, uint32_t v) {
  char b[4];
  absl::big_endian::Store32(b, v);
  out->append(b, 4);
}

absl::StatusOr<SecretBytes> DeriveSealingKey(hsm::KeyStore& keys,
                                             const SealBinding& b,
                                             const Factors& factors,
                                             const crypto::Argon2Params& params,
                                             absl::string_view salt) {
  if (factors.pin.empty())
    return absl::InvalidArgumentError("the PIN is empty");
  ASSIGN_OR_RETURN(SecretBytes a, crypto::Argon2id(factors.pin, salt, params));
  SecretBytes pepper_in(absl::StrCat("inkan-seal-v1|", b.id, "|"));
  pepper_in.Append(a.Reveal());
  auto peppered = keys.Pepper(pepper_in);
  if (!peppered.ok()) {
    // Whatever the HSM said, it is not the user's fault: never Unauthenticated.
    return absl::UnavailableError(absl::StrCat(
        "the HSM could not compute the pepper: ", peppered.status().message()));
  }
  peppered->Append(factors.possession.Reveal());
  return crypto::HkdfSha256(*peppered, salt,
                            absl::StrCat("inkan sealing key v1|", b.id, "|",
                                         crypto::KeyAlgorithmName(b.alg)),
                            crypto::kAeadKeySize);
}

std::string Aad(absl::string_view header, const SealBinding& b) {
  return absl::StrCat(header, "|", b.id, "|", crypto::KeyAlgorithmName(b.alg),
                      "|", b.user_id, "|",
                      HexEncode(crypto::Sha256(b.public_key_der)));
}

}  // namespace

absl::Status CheckArgon2Params(const crypto::Argon2Params& p) {
  if (p.t_cost < 1 || p.t_cost > 16 || p.m_cost_kib < 64 ||
      p.m_cost_kib > 1024 * 1024 || p.parallelism < 1 || p.parallelism > 8 ||
      p.m_cost_kib < 8 * p.parallelism) {
    return absl::InvalidArgumentError(
        "Argon2id parameters out of bounds (t 1..16, m 64 KiB..1 GiB, p 1..8, "
        "m >= 8p)");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> SealKey(hsm::KeyStore& keys,
                                    const SealBinding& binding,
                                    const Factors& factors,
                                    const crypto::Argon2Params& params,
                                    const SecretBytes& wrapped) {
  RETURN_IF_ERROR(CheckArgon2Params(params));
  ASSIGN_OR_RETURN(std::string salt, RandomBytes(kSaltLen));
  std::string header(kMagic);
  PutU32(&header, params.t_cost);
  PutU32(&header, params.m_cost_kib);
  PutU32(&header, params.parallelism);
  header.push_back(factors.possession.empty() ? 0 : kFlagPossession);
  header.append(salt);
  ASSIGN_OR_RETURN(SecretBytes k,
                   DeriveSealingKey(keys, binding, factors, params, salt));
  ASSIGN_OR_RETURN(std::string sealed,
                   crypto::AeadSeal(k, wrapped, Aad(header, binding)));
  return absl::StrCat(header, sealed);
}

absl::StatusOr<SealInfo> ReadSealInfo(absl::string_view sealed) {
  if (sealed.size() < kHeaderLen + crypto::kAeadOverhead ||
      sealed.substr(0, kMagic.size()) != kMagic) {
    return absl::DataLossError("sealed key blob is malformed");
  }
  SealInfo info;
  const char* p = sealed.data() + kMagic.size();
  info.argon2.t_cost = absl::big_endian::Load32(p);
  info.argon2.m_cost_kib = absl::big_endian::Load32(p + 4);
  info.argon2.parallelism = absl::big_endian::Load32(p + 8);
  info.has_possession = (static_cast<uint8_t>(p[12]) & kFlagPossession) != 0;
  if (!CheckArgon2Params(info.argon2).ok()) {
    return absl::DataLossError(
        "sealed key blob has Argon2id parameters out of bounds");
  }
  return info;
}

absl::StatusOr<SecretBytes> UnsealKey(hsm::KeyStore& keys,
                                      const SealBinding& binding,
                                      const Factors& factors,
                                      absl::string_view sealed) {
  ASSIGN_OR_RETURN(SealInfo info, ReadSealInfo(sealed));
  if (info.has_possession != !factors.possession.empty()) {
    return absl::UnauthenticatedError(
        info.has_possession ? "this credential needs its possession factor"
                            : "this credential takes no possession secret");
  }
  absl::string_view header = sealed.substr(0, kHeaderLen);
  absl::string_view salt = header.substr(kHeaderLen - kSaltLen);
  ASSIGN_OR_RETURN(SecretBytes k,
                   DeriveSealingKey(keys, binding, factors, info.argon2, salt));
  auto opened =
      crypto::AeadOpen(k, sealed.substr(kHeaderLen), Aad(header, binding));
  if (absl::IsUnauthenticated(opened.status())) {
    return absl::UnauthenticatedError("wrong PIN or possession factor");
  }
  return opened;
}

}  // namespace inkan::sam
