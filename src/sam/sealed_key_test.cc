#include "sam/sealed_key.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include "hsm/software_key_store.h"

namespace inkan::sam {
namespace {

constexpr crypto::Argon2Params kFast{
    .t_cost = 1, .m_cost_kib = 64, .parallelism = 1};

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

TEST(SealedKeyTest, OnlyTheSameFactorsCredentialAndHsmUnseal) {
  auto keys = NewKeys();
  auto other_hsm = NewKeys();
  const auto alg = crypto::KeyAlgorithm::kEcP256;
  auto sealed =
      SealKey(*keys, "cred1", alg, Pin("1234"), kFast, "wrapped-blob");
  ASSERT_TRUE(sealed.ok()) << sealed.status();
  EXPECT_EQ(sealed->find("wrapped-blob"), std::string::npos);

  auto opened = UnsealKey(*keys, "cred1", alg, Pin("1234"), *sealed);
  ASSERT_TRUE(opened.ok()) << opened.status();
  EXPECT_EQ(*opened, "wrapped-blob");

  EXPECT_EQ(
      UnsealKey(*keys, "cred1", alg, Pin("1235"), *sealed).status().code(),
      absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(
      UnsealKey(*keys, "cred2", alg, Pin("1234"), *sealed).status().code(),
      absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(UnsealKey(*keys, "cred1", crypto::KeyAlgorithm::kEcP384,
                      Pin("1234"), *sealed)
                .status()
                .code(),
            absl::StatusCode::kUnauthenticated);
  // Same database row, another HSM (another pepper): useless.
  EXPECT_EQ(
      UnsealKey(*other_hsm, "cred1", alg, Pin("1234"), *sealed).status().code(),
      absl::StatusCode::kUnauthenticated);
}

TEST(SealedKeyTest, PossessionSecretIsRequiredWhenSealedWithOne) {
  auto keys = NewKeys();
  const auto alg = crypto::KeyAlgorithm::kEcP256;
  auto sealed =
      SealKey(*keys, "c", alg, Pin("1234", "card-secret"), kFast, "blob");
  ASSERT_TRUE(sealed.ok());
  EXPECT_TRUE(
      UnsealKey(*keys, "c", alg, Pin("1234", "card-secret"), *sealed).ok());
  EXPECT_EQ(UnsealKey(*keys, "c", alg, Pin("1234"), *sealed).status().code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(UnsealKey(*keys, "c", alg, Pin("1234", "other-card"), *sealed)
                .status()
                .code(),
            absl::StatusCode::kUnauthenticated);
}

TEST(SealedKeyTest, HeaderIsAuthenticatedAndMalformedBlobsAreDataLoss) {
  auto keys = NewKeys();
  const auto alg = crypto::KeyAlgorithm::kEcP256;
  auto sealed = SealKey(*keys, "c", alg, Pin("1234"), kFast, "blob");
  ASSERT_TRUE(sealed.ok());
  auto info = ReadSealInfo(*sealed);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->argon2.m_cost_kib, 64u);
  std::string tampered = *sealed;
  tampered[9] ^= 0x01;  // t_cost's low byte: 1 -> 0 or a different cost
  tampered[9] = 2;
  EXPECT_FALSE(UnsealKey(*keys, "c", alg, Pin("1234"), tampered).ok());
  EXPECT_EQ(
      UnsealKey(*keys, "c", alg, Pin("1234"), "INKSK1short").status().code(),
      absl::StatusCode::kDataLoss);
  EXPECT_EQ(SealKey(*keys, "c", alg, Pin(""), kFast, "blob").status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace inkan::sam
