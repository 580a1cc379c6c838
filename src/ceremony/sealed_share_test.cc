#include "ceremony/sealed_share.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "ceremony/shamir.h"
#include "common/encoding.h"
#include "common/random.h"
#include "crypto/digest.h"
#include "crypto/software_signer.h"
#include "crypto/ssl_ptr.h"

namespace inkan::ceremony {
namespace {

using crypto::KeyAlgorithm;

template <typename T>
const absl::Status& StatusOf(const absl::StatusOr<T>& s) {
  return s.status();
}

MATCHER_P2(StatusIs, code, substring, "") {
  const absl::Status& status = StatusOf(arg);
  *result_listener << "status is " << status;
  return status.code() == code &&
         absl::StrContains(status.message(), substring);
}

struct TestKey {
  SecretBytes pkcs8;
  std::string spki;
};

TestKey MakeKey(KeyAlgorithm alg) {
  auto pkcs8 = crypto::GenerateSoftwareKey(alg);
  EXPECT_TRUE(pkcs8.ok()) << pkcs8.status();
  auto signer =
      crypto::NewSoftwareSigner(*pkcs8, {alg, crypto::DefaultHash(alg)});
  EXPECT_TRUE(signer.ok()) << signer.status();
  return {*pkcs8, (*signer)->public_key_der()};
}

class SealedShareTest : public testing::Test {
 protected:
  void SetUp() override {
    auto secret = RandomSecret(32);
    ASSERT_TRUE(secret.ok()) << secret.status();
    secret_ = *std::move(secret);
    auto shares = SplitSecret(secret_, 3, 5);
    ASSERT_TRUE(shares.ok()) << shares.status();
    shares_ = *std::move(shares);
  }

  std::string SealOrDie(const Share& share, const TestKey& key) {
    auto sealed = SealShare(share, key.spki);
    EXPECT_TRUE(sealed.ok()) << sealed.status();
    return sealed.ok() ? *sealed : "";
  }

  SecretBytes secret_;
  std::vector<Share> shares_;
  TestKey alice_ = MakeKey(KeyAlgorithm::kEcP256);
  TestKey bob_ = MakeKey(KeyAlgorithm::kEcP256);
};

// The base64 between the armor lines, decoded.
std::string Dearmor(absl::string_view text) {
  const size_t begin = text.find('\n') + 1;
  const size_t end = text.find(kSealedShareEnd);
  std::string b64;
  for (char c : text.substr(begin, end - begin)) {
    if (c != '\n') b64.push_back(c);
  }
  auto binary = Base64Decode(b64);
  EXPECT_TRUE(binary.ok()) << binary.status();
  return *binary;
}

std::string Armor(absl::string_view binary) {
  return absl::StrCat(kSealedShareBegin, "\n", Base64Encode(binary), "\n",
                      kSealedShareEnd, "\n");
}

TEST_F(SealedShareTest, RoundTripsAndTheOpenedSharesRecoverTheSecret) {
  std::vector<Share> opened;
  for (const Share& share : shares_) {
    const std::string text = SealOrDie(share, alice_);
    EXPECT_TRUE(absl::StartsWith(text, absl::StrCat(kSealedShareBegin, "\n")))
        << text;
    EXPECT_TRUE(absl::EndsWith(text, absl::StrCat(kSealedShareEnd, "\n")))
        << text;
    auto open = OpenSealedShare(text, alice_.pkcs8);
    ASSERT_TRUE(open.ok()) << open.status();
    EXPECT_EQ(open->index, share.index);
    EXPECT_EQ(open->threshold, share.threshold);
    EXPECT_EQ(open->share_count, share.share_count);
    EXPECT_EQ(open->set_id, share.set_id);
    EXPECT_TRUE(open->value.ConstantTimeEquals(share.value));
    opened.push_back(*std::move(open));
  }
  auto recovered = CombineShares(absl::MakeConstSpan(opened).subspan(1, 3));
  ASSERT_TRUE(recovered.ok()) << recovered.status();
  EXPECT_TRUE(recovered->ConstantTimeEquals(secret_));
}

TEST_F(SealedShareTest, ToleratesSurroundingTextAndLineEndings) {
  std::string text = SealOrDie(shares_[0], alice_);
  std::string crlf;
  for (char c : text) {
    if (c == '\n') crlf += '\r';
    crlf += c;
  }
  for (const std::string& variant :
       {absl::StrCat("Share for Alice, keep safe.\n\n", text, "\n-- \nbye\n"),
        crlf}) {
    auto open = OpenSealedShare(variant, alice_.pkcs8);
    ASSERT_TRUE(open.ok()) << open.status();
    EXPECT_TRUE(open->value.ConstantTimeEquals(shares_[0].value));
  }
}

// GenerateSoftwareKey writes PKCS#8 (as `openssl genpkey` does); custodians
// whose tools write SEC 1 ECPrivateKey ("BEGIN EC PRIVATE KEY") must be able
// to open their shares too.
SecretBytes ToSec1(const SecretBytes& der) {
  const unsigned char* p = der.Reveal().data();
  crypto::EvpPkeyPtr key(d2i_AutoPrivateKey(nullptr, &p, der.size()));
  EXPECT_NE(key, nullptr);
  unsigned char* out = nullptr;
  const int len = i2d_PrivateKey(key.get(), &out);  // SEC 1 for EC keys
  EXPECT_GT(len, 0);
  SecretBytes sec1(absl::MakeConstSpan(out, len));
  OPENSSL_clear_free(out, len);
  return sec1;
}

TEST_F(SealedShareTest, OpensWithPkcs8AndSec1PrivateKeys) {
  const std::string text = SealOrDie(shares_[4], alice_);
  const SecretBytes sec1 = ToSec1(alice_.pkcs8);
  ASSERT_FALSE(sec1.ConstantTimeEquals(alice_.pkcs8));
  for (const SecretBytes* key : {&std::as_const(alice_.pkcs8), &sec1}) {
    auto open = OpenSealedShare(text, *key);
    ASSERT_TRUE(open.ok()) << open.status();
    EXPECT_TRUE(open->value.ConstantTimeEquals(shares_[4].value));
  }
}

TEST_F(SealedShareTest, InspectShowsWhoItIsForWithoutTheKey) {
  const std::string text = SealOrDie(shares_[2], alice_);
  auto info = InspectSealedShare(text);
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->set_id, shares_[2].set_id);
  EXPECT_EQ(info->threshold, 3);
  EXPECT_EQ(info->share_count, 5);
  EXPECT_EQ(info->index, 3);
  EXPECT_EQ(info->recipient_key_sha256, crypto::Sha256(alice_.spki));
}

TEST_F(SealedShareTest, EachSealIsFresh) {
  EXPECT_NE(SealOrDie(shares_[0], alice_), SealOrDie(shares_[0], alice_));
}

TEST_F(SealedShareTest, TheWrongPrivateKeyIsUnauthenticated) {
  const std::string text = SealOrDie(shares_[0], alice_);
  EXPECT_THAT(OpenSealedShare(text, bob_.pkcs8),
              StatusIs(absl::StatusCode::kUnauthenticated, "another key"));
}

TEST_F(SealedShareTest, EveryAlteredByteIsDetected) {
  const std::string binary = Dearmor(SealOrDie(shares_[1], alice_));
  ASSERT_TRUE(OpenSealedShare(Armor(binary), alice_.pkcs8).ok());
  for (size_t i = 0; i < binary.size(); ++i) {
    for (uint8_t flip : {0x01, 0x80}) {
      std::string altered = binary;
      altered[i] = static_cast<char>(altered[i] ^ flip);
      auto open = OpenSealedShare(Armor(altered), alice_.pkcs8);
      ASSERT_FALSE(open.ok()) << "byte " << i << " ^ " << int{flip};
      // Bytes 0 and 1 frame the rest (version, set id length); every other
      // change is caught cryptographically.
      if (i >= 2) {
        EXPECT_THAT(open, StatusIs(absl::StatusCode::kUnauthenticated, ""))
            << "byte " << i << " ^ " << int{flip};
      }
    }
  }
}

TEST_F(SealedShareTest, TruncatedOrUnframedBlocksAreInvalid) {
  const std::string text = SealOrDie(shares_[0], alice_);
  const std::string binary = Dearmor(text);
  EXPECT_THAT(OpenSealedShare(Armor(binary.substr(0, binary.size() - 40)),
                              alice_.pkcs8),
              StatusIs(absl::StatusCode::kInvalidArgument, "truncated"));
  EXPECT_THAT(
      OpenSealedShare("no block here", alice_.pkcs8),
      StatusIs(absl::StatusCode::kInvalidArgument, "not a sealed share"));
  EXPECT_THAT(
      OpenSealedShare(text.substr(0, text.find("-----END")), alice_.pkcs8),
      StatusIs(absl::StatusCode::kInvalidArgument, "cut short"));
  EXPECT_THAT(OpenSealedShare(
                  absl::StrCat(kSealedShareBegin, "\n!!!!\n", kSealedShareEnd),
                  alice_.pkcs8),
              StatusIs(absl::StatusCode::kInvalidArgument, "base64"));
  std::string v2 = binary;
  v2[0] = 2;
  EXPECT_THAT(OpenSealedShare(Armor(v2), alice_.pkcs8),
              StatusIs(absl::StatusCode::kInvalidArgument, "version 2"));
}

TEST_F(SealedShareTest, Ed25519RecipientsAreRefused) {
  const TestKey ed = MakeKey(KeyAlgorithm::kEd25519);
  EXPECT_THAT(SealShare(shares_[0], ed.spki),
              StatusIs(absl::StatusCode::kInvalidArgument, "Ed25519"));
  const std::string text = SealOrDie(shares_[0], alice_);
  EXPECT_THAT(OpenSealedShare(text, ed.pkcs8),
              StatusIs(absl::StatusCode::kInvalidArgument, "Ed25519"));
}

TEST_F(SealedShareTest, OtherNonP256KeysAreRefused) {
  const TestKey p384 = MakeKey(KeyAlgorithm::kEcP384);
  EXPECT_THAT(
      SealShare(shares_[0], p384.spki),
      StatusIs(absl::StatusCode::kInvalidArgument, "not an ECDSA P-256"));
  const TestKey rsa = MakeKey(KeyAlgorithm::kRsa2048);
  EXPECT_THAT(
      SealShare(shares_[0], rsa.spki),
      StatusIs(absl::StatusCode::kInvalidArgument, "not an ECDSA P-256"));
  EXPECT_THAT(
      SealShare(shares_[0], "not a key"),
      StatusIs(absl::StatusCode::kInvalidArgument, "SubjectPublicKeyInfo"));
  EXPECT_THAT(
      SealShare(shares_[0], absl::StrCat(alice_.spki, "x")),
      StatusIs(absl::StatusCode::kInvalidArgument, "SubjectPublicKeyInfo"));
  const std::string text = SealOrDie(shares_[0], alice_);
  EXPECT_THAT(
      OpenSealedShare(text, p384.pkcs8),
      StatusIs(absl::StatusCode::kInvalidArgument, "not an ECDSA P-256"));
  EXPECT_THAT(OpenSealedShare(text, SecretBytes(absl::string_view("junk"))),
              StatusIs(absl::StatusCode::kInvalidArgument, "PKCS#8"));
}

TEST_F(SealedShareTest, MalformedSharesAreNotSealed) {
  Share bad = shares_[0];
  bad.index = 0;
  EXPECT_THAT(SealShare(bad, alice_.spki),
              StatusIs(absl::StatusCode::kInvalidArgument, "index"));
}

}  // namespace
}  // namespace inkan::ceremony
