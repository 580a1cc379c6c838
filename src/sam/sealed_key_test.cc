#include "sam/sealed_key.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include "absl/base/internal/endian.h"
#include "hsm/software_key_store.h"

namespace inkan::sam {
namespace {

constexpr crypto::Argon2Params kFast{
    .t_cost = 1, .m_cost_kib = 64, .parallelism = 1};
const auto kAlg = crypto::KeyAlgorithm::kEcP256;

std::unique_ptr<hsm::KeyStore> NewKeys() {
  char tmpl[] = "/tmp/inkan-sam-test-XXXXXX";
  auto keys = hsm::OpenSoftwareKeyStore(std::string(mkdtemp(tmpl)) + "/keys");
  EXPECT_TRUE(keys.ok());
  EXPECT_TRUE((*keys)->Initialize().ok());
  return std::move(*keys);
}

Factors Pin(absl::string_view pin, absl::string_view possession = "") {
  return {SecretBytes(pin), SecretBytes(possession)};
}

SealBinding Bind(absl::string_view id = "cred1", int64_t user = 7,
                 absl::string_view spki = "spki-1") {
  return {std::string(id), kAlg, user, std::string(spki)};
}

const SecretBytes kBlob(absl::string_view("wrapped-blob"));

TEST(SealedKeyTest, OnlyTheSameFactorsBindingAndHsmUnseal) {
  auto keys = NewKeys();
  auto other_hsm = NewKeys();
  auto sealed = SealKey(*keys, Bind(), Pin("123456"), kFast, kBlob);
  ASSERT_TRUE(sealed.ok()) << sealed.status();
  EXPECT_EQ(sealed->find("wrapped-blob"), std::string::npos);

  auto opened = UnsealKey(*keys, Bind(), Pin("123456"), *sealed);
  ASSERT_TRUE(opened.ok()) << opened.status();
  EXPECT_TRUE(opened->ConstantTimeEquals(kBlob));

  auto code = [&](hsm::KeyStore& k, const SealBinding& b,
                  absl::string_view pin) {
    return UnsealKey(k, b, Pin(pin), *sealed).status().code();
  };
  const auto kUnauth = absl::StatusCode::kUnauthenticated;
  EXPECT_EQ(code(*keys, Bind(), "123457"), kUnauth);
  // Moved to another credential, user or public key, or read as another
  // algorithm: it no longer opens.
  EXPECT_EQ(code(*keys, Bind("cred2"), "123456"), kUnauth);
  EXPECT_EQ(code(*keys, Bind("cred1", 8), "123456"), kUnauth);
  EXPECT_EQ(code(*keys, Bind("cred1", 7, "spki-2"), "123456"), kUnauth);
  SealBinding other_alg = Bind();
  other_alg.alg = crypto::KeyAlgorithm::kEcP384;
  EXPECT_EQ(code(*keys, other_alg, "123456"), kUnauth);
  // Same database row, another HSM (another pepper): useless.
  EXPECT_EQ(code(*other_hsm, Bind(), "123456"), kUnauth);
}

TEST(SealedKeyTest, PossessionSecretIsRequiredWhenSealedWithOne) {
  auto keys = NewKeys();
  auto sealed =
      SealKey(*keys, Bind(), Pin("123456", "card-secret"), kFast, kBlob);
  ASSERT_TRUE(sealed.ok());
  EXPECT_TRUE(
      UnsealKey(*keys, Bind(), Pin("123456", "card-secret"), *sealed).ok());
  EXPECT_EQ(UnsealKey(*keys, Bind(), Pin("123456"), *sealed).status().code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(UnsealKey(*keys, Bind(), Pin("123456", "other-card"), *sealed)
                .status()
                .code(),
            absl::StatusCode::kUnauthenticated);
}

TEST(SealedKeyTest, HeaderIsAuthenticatedAndBoundedBeforeAnyWork) {
  auto keys = NewKeys();
  auto sealed = SealKey(*keys, Bind(), Pin("123456"), kFast, kBlob);
  ASSERT_TRUE(sealed.ok());
  auto info = ReadSealInfo(*sealed);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->argon2.m_cost_kib, 64u);

  // A valid but different cost: the header is in the AAD, so it fails.
  std::string t2 = *sealed;
  absl::big_endian::Store32(t2.data() + 6, 2);
  EXPECT_EQ(UnsealKey(*keys, Bind(), Pin("123456"), t2).status().code(),
            absl::StatusCode::kUnauthenticated);
  // Costs out of bounds (a database writer's DoS): refused before deriving.
  for (auto [offset, value] : {std::pair{6, 1u << 31}, std::pair{10, 4u << 20},
                               std::pair{14, 1000u}, std::pair{6, 0u}}) {
    std::string huge = *sealed;
    absl::big_endian::Store32(huge.data() + offset, value);
    EXPECT_EQ(UnsealKey(*keys, Bind(), Pin("123456"), huge).status().code(),
              absl::StatusCode::kDataLoss)
        << offset << "=" << value;
  }
  EXPECT_EQ(
      UnsealKey(*keys, Bind(), Pin("123456"), "INKSK1short").status().code(),
      absl::StatusCode::kDataLoss);
  EXPECT_EQ(SealKey(*keys, Bind(), Pin(""), kFast, kBlob).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(SealKey(*keys, Bind(), Pin("123456"), {.t_cost = 100}, kBlob)
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
}

// An HSM failure is never reported as a wrong PIN (it must not cost a try).
class FailingPepperKeys : public hsm::KeyStore {
 public:
  absl::string_view backend() const override { return "failing"; }
  bool provisional() const override { return true; }
  absl::Status Initialize() override { return absl::OkStatus(); }
  absl::Status CheckSystemKeys() override { return absl::OkStatus(); }
  absl::StatusOr<hsm::WrappedKey> GenerateWrappedKey(
      crypto::KeyAlgorithm) override {
    return absl::UnimplementedError("");
  }
  absl::StatusOr<std::unique_ptr<hsm::ActiveKey>> Activate(
      crypto::KeyAlgorithm, const SecretBytes&) override {
    return absl::UnimplementedError("");
  }
  absl::StatusOr<hsm::WrappedKey> GenerateKeyWrappedUnder(
      crypto::KeyAlgorithm, const SecretBytes&) override {
    return absl::UnimplementedError("");
  }
  absl::StatusOr<std::unique_ptr<hsm::ActiveKey>> ActivateWithKek(
      crypto::KeyAlgorithm, const SecretBytes&, const SecretBytes&) override {
    return absl::UnimplementedError("");
  }
  absl::StatusOr<SecretBytes> Pepper(const SecretBytes&) override {
    return absl::UnauthenticatedError("C_Sign failed: CKR_USER_NOT_LOGGED_IN");
  }
  absl::StatusOr<const crypto::Signer*> AuditSigner() override {
    return absl::UnimplementedError("");
  }
};

TEST(SealedKeyTest, HsmFailureIsUnavailableNotAWrongPin) {
  auto keys = NewKeys();
  auto sealed = SealKey(*keys, Bind(), Pin("123456"), kFast, kBlob);
  ASSERT_TRUE(sealed.ok());
  FailingPepperKeys failing;
  EXPECT_EQ(UnsealKey(failing, Bind(), Pin("123456"), *sealed).status().code(),
            absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace inkan::sam
