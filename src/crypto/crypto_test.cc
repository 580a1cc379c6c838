#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/encoding.h"
#include "crypto/aead.h"
#include "crypto/digest.h"
#include "crypto/kdf.h"
#include "crypto/signature_format.h"
#include "crypto/software_signer.h"

namespace inkan::crypto {
namespace {

struct Case {
  KeyAlgorithm key;
  HashAlgorithm hash;
  RsaPadding padding;
};

class SoftwareSignerTest : public testing::TestWithParam<Case> {};

TEST_P(SoftwareSignerTest, SignsAndVerifiesAndRejectsTampering) {
  SignatureScheme scheme{GetParam().key, GetParam().hash, GetParam().padding};
  auto pkcs8 = GenerateSoftwareKey(scheme.key);
  ASSERT_TRUE(pkcs8.ok()) << pkcs8.status();
  auto signer = NewSoftwareSigner(*pkcs8, scheme);
  ASSERT_TRUE(signer.ok()) << signer.status();
  auto verifier = NewVerifier((*signer)->public_key_der(), scheme);
  ASSERT_TRUE(verifier.ok()) << verifier.status();

  std::string digest = Digest(scheme.hash, "document");
  auto sig = (*signer)->SignDigest(digest);
  ASSERT_TRUE(sig.ok()) << sig.status();
  EXPECT_TRUE((*verifier)->VerifyDigest(digest, *sig).ok());

  std::string bad = *sig;
  bad[bad.size() / 2] ^= 1;
  EXPECT_FALSE((*verifier)->VerifyDigest(digest, bad).ok());
  EXPECT_FALSE(
      (*verifier)->VerifyDigest(Digest(scheme.hash, "other"), *sig).ok());
  if (scheme.key != KeyAlgorithm::kEd25519) {
    EXPECT_EQ((*signer)->SignDigest("short").status().code(),
              absl::StatusCode::kInvalidArgument);
  }
}

INSTANTIATE_TEST_SUITE_P(
    All, SoftwareSignerTest,
    testing::Values(
        Case{KeyAlgorithm::kEcP256, HashAlgorithm::kSha256, RsaPadding::kPkcs1},
        Case{KeyAlgorithm::kEcP384, HashAlgorithm::kSha384, RsaPadding::kPkcs1},
        Case{KeyAlgorithm::kRsa2048, HashAlgorithm::kSha256,
             RsaPadding::kPkcs1},
        Case{KeyAlgorithm::kRsa2048, HashAlgorithm::kSha512, RsaPadding::kPss},
        Case{KeyAlgorithm::kRsa3072, HashAlgorithm::kSha384, RsaPadding::kPss},
        Case{KeyAlgorithm::kEd25519, HashAlgorithm::kSha256,
             RsaPadding::kPkcs1}));

TEST(VerifierTest, RefusesKeyOfAnotherKind) {
  auto pkcs8 = GenerateSoftwareKey(KeyAlgorithm::kEcP256);
  auto signer = NewSoftwareSigner(
      *pkcs8, {KeyAlgorithm::kEcP256, HashAlgorithm::kSha256});
  ASSERT_TRUE(signer.ok());
  EXPECT_FALSE(NewVerifier((*signer)->public_key_der(),
                           {KeyAlgorithm::kRsa2048, HashAlgorithm::kSha256})
                   .ok());
  EXPECT_FALSE(
      NewVerifier("garbage", {KeyAlgorithm::kEcP256, HashAlgorithm::kSha256})
          .ok());
  EXPECT_FALSE(
      NewSoftwareSigner(SecretBytes(absl::string_view("junk")),
                        {KeyAlgorithm::kEcP256, HashAlgorithm::kSha256})
          .ok());
}

TEST(SignatureFormatTest, EcdsaRawToDerVerifies) {
  // r = 1, s = 2 in 32-byte halves.
  std::string raw(64, '\0');
  raw[31] = 1;
  raw[63] = 2;
  auto der = EcdsaRawToDer(raw);
  ASSERT_TRUE(der.ok());
  EXPECT_EQ(HexEncode(*der), "3006020101020102");
  EXPECT_FALSE(EcdsaRawToDer("abc").ok());
}

TEST(AeadTest, RoundTripAndEveryTamperFails) {
  SecretBytes key(std::string(32, 'k'));
  SecretBytes plain(absl::string_view("wrapped key blob"));
  auto sealed = AeadSeal(key, plain, "aad");
  ASSERT_TRUE(sealed.ok());
  auto opened = AeadOpen(key, *sealed, "aad");
  ASSERT_TRUE(opened.ok());
  EXPECT_EQ(opened->RevealString(), "wrapped key blob");

  EXPECT_EQ(AeadOpen(SecretBytes(std::string(32, 'x')), *sealed, "aad")
                .status()
                .code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(AeadOpen(key, *sealed, "other").status().code(),
            absl::StatusCode::kUnauthenticated);
  for (size_t i = 0; i < sealed->size(); ++i) {
    std::string t = *sealed;
    t[i] ^= 0x01;
    EXPECT_FALSE(AeadOpen(key, t, "aad").ok()) << "byte " << i;
  }
  EXPECT_EQ(AeadOpen(key, "short", "aad").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(AeadSeal(SecretBytes(std::string(16, 'k')), plain, "").ok());
}

TEST(KdfTest, HkdfMatchesRfc5869Case1) {
  SecretBytes ikm(std::string(22, '\x0b'));
  auto okm = HkdfSha256(ikm, *HexDecode("000102030405060708090a0b0c"),
                        *HexDecode("f0f1f2f3f4f5f6f7f8f9"), 42);
  ASSERT_TRUE(okm.ok());
  EXPECT_EQ(HexEncode(okm->RevealString()),
            "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34"
            "007208d5b8871858"
            "65");
}

TEST(KdfTest, Argon2idIsDeterministicAndSaltSensitive) {
  Argon2Params p{.t_cost = 1, .m_cost_kib = 64, .parallelism = 1};
  SecretBytes pin(absl::string_view("123456"));
  auto a = Argon2id(pin, "salt-salt-salt-1", p);
  auto b = Argon2id(pin, "salt-salt-salt-1", p);
  auto c = Argon2id(pin, "salt-salt-salt-2", p);
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  EXPECT_TRUE(a->ConstantTimeEquals(*b));
  EXPECT_FALSE(a->ConstantTimeEquals(*c));
  EXPECT_EQ(Argon2id(pin, "short", p).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace inkan::crypto
