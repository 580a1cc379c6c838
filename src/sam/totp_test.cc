#include "sam/totp.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/clock.h"

namespace inkan::sam {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// RFC 6238 Appendix A seeds: "1234567890" repeated to the hash's length.
SecretBytes Seed(size_t len) {
  std::string s;
  while (s.size() < len) s += "1234567890";
  s.resize(len);
  return SecretBytes(absl::string_view(s));
}

SecretBytes Bytes(absl::string_view s) { return SecretBytes(s); }

absl::Span<const uint8_t> Span(absl::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

std::string Code(const SecretBytes& secret, const TotpParams& params,
                 absl::Time t) {
  auto code = TotpCode(secret, params, t);
  EXPECT_TRUE(code.ok()) << code.status();
  return code.ok() ? *code : "";
}

absl::Time At(int64_t unix_seconds) {
  return absl::FromUnixSeconds(unix_seconds);
}

TEST(TotpTest, Rfc6238AppendixBVectors) {
  struct Vector {
    int64_t time;
    TotpAlgorithm alg;
    const char* code;
  };
  const std::vector<Vector> vectors = {
      {59, TotpAlgorithm::kSha1, "94287082"},
      {59, TotpAlgorithm::kSha256, "46119246"},
      {59, TotpAlgorithm::kSha512, "90693936"},
      {1111111109, TotpAlgorithm::kSha1, "07081804"},
      {1111111109, TotpAlgorithm::kSha256, "68084774"},
      {1111111109, TotpAlgorithm::kSha512, "25091201"},
      {1111111111, TotpAlgorithm::kSha1, "14050471"},
      {1111111111, TotpAlgorithm::kSha256, "67062674"},
      {1111111111, TotpAlgorithm::kSha512, "99943326"},
      {1234567890, TotpAlgorithm::kSha1, "89005924"},
      {1234567890, TotpAlgorithm::kSha256, "91819424"},
      {1234567890, TotpAlgorithm::kSha512, "93441116"},
      {2000000000, TotpAlgorithm::kSha1, "69279037"},
      {2000000000, TotpAlgorithm::kSha256, "90698825"},
      {2000000000, TotpAlgorithm::kSha512, "38618901"},
      {20000000000, TotpAlgorithm::kSha1, "65353130"},
      {20000000000, TotpAlgorithm::kSha256, "77737706"},
      {20000000000, TotpAlgorithm::kSha512, "47863826"},
  };
  for (const Vector& v : vectors) {
    const size_t seed_len = v.alg == TotpAlgorithm::kSha1     ? 20
                            : v.alg == TotpAlgorithm::kSha256 ? 32
                                                              : 64;
    TotpParams params{.hash = v.alg, .digits = 8};
    SCOPED_TRACE(absl::StrCat(v.time, " ", TotpAlgorithmName(v.alg)));
    EXPECT_EQ(Code(Seed(seed_len), params, At(v.time)), v.code);
    // And the verifier accepts it, at that very step.
    auto step =
        VerifyTotp(Seed(seed_len), params, v.code, At(v.time), kNoTotpStepUsed);
    ASSERT_TRUE(step.ok()) << step.status();
    EXPECT_EQ(*step, v.time / 30);
  }
}

TEST(TotpTest, Rfc6238TimeSteps) {
  const TotpParams params;
  EXPECT_EQ(*TotpTimeStep(params, At(59)), 1);
  EXPECT_EQ(*TotpTimeStep(params, At(1111111109)), 0x23523EC);
  EXPECT_EQ(*TotpTimeStep(params, At(1111111111)), 0x23523ED);
  EXPECT_EQ(*TotpTimeStep(params, At(20000000000)), 0x27BC86AA);
  // Rounds down within a step.
  EXPECT_EQ(*TotpTimeStep(params, At(60) - absl::Nanoseconds(1)), 1);
  EXPECT_EQ(*TotpTimeStep(params, At(60)), 2);
  EXPECT_EQ(TotpTimeStep(params, At(-1)).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(TotpTimeStep(params, absl::InfiniteFuture()).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(TotpTest, Rfc4226AppendixDHotpValues) {
  const char* expected[] = {"755224", "287082", "359152", "969429", "338314",
                            "254676", "287922", "162583", "399871", "520489"};
  const SecretBytes secret = Seed(20);  // "12345678901234567890"
  for (uint64_t count = 0; count < 10; ++count) {
    auto code = HotpCode(secret, TotpAlgorithm::kSha1, count, 6);
    ASSERT_TRUE(code.ok()) << code.status();
    EXPECT_EQ(*code, expected[count]) << "count " << count;
  }
  // TOTP is HOTP at the time step: count 1 is t in [30, 60).
  EXPECT_EQ(Code(secret, TotpParams{}, At(45)), "287082");
}

TEST(TotpTest, HotpRefusesShortSecretsAndBadDigits) {
  EXPECT_EQ(HotpCode(Bytes("123456789012345"), TotpAlgorithm::kSha1, 0, 6)
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(
      HotpCode(Bytes("1234567890123456"), TotpAlgorithm::kSha1, 0, 6).ok());
  EXPECT_EQ(HotpCode(Seed(20), TotpAlgorithm::kSha1, 0, 5).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(HotpCode(Seed(20), TotpAlgorithm::kSha1, 0, 9).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(
      HotpCode(Seed(20), static_cast<TotpAlgorithm>(42), 0, 6).status().code(),
      absl::StatusCode::kInvalidArgument);
}

class VerifyTotpTest : public ::testing::Test {
 protected:
  // A time in the middle of a step, so +-1 s cannot cross a boundary.
  FakeClock clock_{absl::FromUnixSeconds(1798761600 + 15)};
  const SecretBytes secret_ = Seed(20);
  const TotpParams params_;  // SHA1, 6 digits, 30 s, window 1
  absl::StatusOr<int64_t> Verify(absl::string_view code,
                                 int64_t last = kNoTotpStepUsed) {
    return VerifyTotp(secret_, params_, code, clock_.Now(), last);
  }
  std::string CodeAtOffset(int steps) {
    return Code(secret_, params_, clock_.Now() + steps * params_.step);
  }
  int64_t Now() { return *TotpTimeStep(params_, clock_.Now()); }
};

TEST_F(VerifyTotpTest, WindowOfOneStepEitherSide) {
  for (int offset : {-1, 0, 1}) {
    auto step = Verify(CodeAtOffset(offset));
    ASSERT_TRUE(step.ok()) << offset << ": " << step.status();
    EXPECT_EQ(*step, Now() + offset);
  }
  for (int offset : {-2, 2}) {
    const std::string code = CodeAtOffset(offset);
    // Guard against a chance collision with a code inside the window.
    for (int inside : {-1, 0, 1}) ASSERT_NE(code, CodeAtOffset(inside));
    auto step = Verify(code);
    EXPECT_EQ(step.status(), absl::PermissionDeniedError("wrong one-time code"))
        << offset;
  }
}

TEST_F(VerifyTotpTest, WindowZeroAcceptsOnlyTheCurrentStep) {
  const TotpParams strict{.window = 0};
  const std::string previous = CodeAtOffset(-1);
  ASSERT_NE(previous, CodeAtOffset(0));
  EXPECT_TRUE(
      VerifyTotp(secret_, strict, CodeAtOffset(0), clock_.Now(), -1).ok());
  EXPECT_EQ(
      VerifyTotp(secret_, strict, previous, clock_.Now(), -1).status().code(),
      absl::StatusCode::kPermissionDenied);
}

TEST_F(VerifyTotpTest, WrongCodeIsPermissionDenied) {
  std::string code = CodeAtOffset(0);
  code[0] = code[0] == '9' ? '0' : static_cast<char>(code[0] + 1);
  for (int inside : {-1, 1}) ASSERT_NE(code, CodeAtOffset(inside));
  EXPECT_EQ(Verify(code).status(),
            absl::PermissionDeniedError("wrong one-time code"));
  // Another secret's code is wrong too.
  const SecretBytes other = Bytes("abcdefghijklmnopqrst");
  auto step = VerifyTotp(other, params_, CodeAtOffset(0), clock_.Now(), -1);
  EXPECT_EQ(step.status().code(), absl::StatusCode::kPermissionDenied);
}

TEST_F(VerifyTotpTest, ACodeIsAcceptedOnce) {
  const std::string code = CodeAtOffset(0);
  auto first = Verify(code);
  ASSERT_TRUE(first.ok()) << first.status();
  auto again = Verify(code, *first);
  EXPECT_EQ(again.status(),
            absl::PermissionDeniedError("this one-time code was already used"));
  // Still refused a few seconds later, within the same step and the next.
  clock_.Advance(absl::Seconds(10));
  EXPECT_EQ(Verify(code, *first).status().message(),
            "this one-time code was already used");
  clock_.Advance(params_.step);
  EXPECT_EQ(Verify(code, *first).status().message(),
            "this one-time code was already used");
  // And once it has left the window it is simply wrong.
  clock_.Advance(params_.step);
  EXPECT_EQ(Verify(code, *first).status().message(), "wrong one-time code");
}

TEST_F(VerifyTotpTest, AnOlderCodeAfterANewerOneIsRefused) {
  const std::string older = CodeAtOffset(-1);
  const std::string newer = CodeAtOffset(0);
  ASSERT_NE(older, newer);
  auto used = Verify(newer);
  ASSERT_TRUE(used.ok()) << used.status();
  EXPECT_EQ(*used, Now());
  EXPECT_EQ(Verify(older, *used).status(),
            absl::PermissionDeniedError("this one-time code was already used"));
  // The next step's code is still good, and moves the mark forward.
  clock_.Advance(params_.step);
  auto next = Verify(CodeAtOffset(0), *used);
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_EQ(*next, *used + 1);
}

TEST_F(VerifyTotpTest, ALoginSequenceOverTime) {
  int64_t last = kNoTotpStepUsed;
  for (int i = 0; i < 5; ++i) {
    const std::string code = CodeAtOffset(0);
    auto step = Verify(code, last);
    ASSERT_TRUE(step.ok()) << i << ": " << step.status();
    EXPECT_GT(*step, last);
    last = *step;
    EXPECT_FALSE(Verify(code, last).ok());
    clock_.Advance(params_.step);
  }
}

// With this secret, steps 61331809 and 61331811 share the code 768734 (found
// by search). Verifying it at step 61331810 must record the later step:
// recording the earlier one would let the same code in a second time.
TEST(TotpTest, ACodeMatchingTwoStepsRecordsTheLater) {
  const SecretBytes secret = Seed(20);
  const TotpParams params;
  ASSERT_EQ(*HotpCode(secret, TotpAlgorithm::kSha1, 61331809, 6), "768734");
  ASSERT_EQ(*HotpCode(secret, TotpAlgorithm::kSha1, 61331811, 6), "768734");
  const absl::Time now = At(61331810LL * 30 + 5);
  auto step = VerifyTotp(secret, params, "768734", now, kNoTotpStepUsed);
  ASSERT_TRUE(step.ok()) << step.status();
  EXPECT_EQ(*step, 61331811);
  EXPECT_EQ(VerifyTotp(secret, params, "768734", now, *step).status().message(),
            "this one-time code was already used");
  // Having used it for the earlier step, it is still valid for the later one.
  EXPECT_EQ(*VerifyTotp(secret, params, "768734", now, 61331809), 61331811);
}

TEST_F(VerifyTotpTest, MalformedCodesAreInvalidArgument) {
  const std::string good = CodeAtOffset(0);
  for (absl::string_view code :
       {absl::string_view(good).substr(0, 5), absl::string_view("12a456"),
        absl::string_view(""), absl::string_view("1234567"),
        absl::string_view(" 12345"), absl::string_view("+12345"),
        absl::string_view("12345\n"),
        absl::string_view("12\0"
                          "456",
                          6)}) {
    auto step = Verify(code);
    EXPECT_EQ(step.status().code(), absl::StatusCode::kInvalidArgument)
        << "'" << code << "'";
    EXPECT_THAT(step.status().message(), Not(HasSubstr(good)));
  }
  // The right code with a trailing extra digit is malformed, not wrong.
  EXPECT_EQ(Verify(good + "0").status().code(),
            absl::StatusCode::kInvalidArgument);
  // 8-digit configuration: a 6-digit code is malformed.
  const TotpParams eight{.digits = 8};
  EXPECT_EQ(VerifyTotp(secret_, eight, good, clock_.Now(), -1).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(VerifyTotpTest, RefusesBadParamsAndShortSecrets) {
  EXPECT_EQ(
      VerifyTotp(secret_, TotpParams{.digits = 5}, "12345", clock_.Now(), -1)
          .status()
          .code(),
      absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(VerifyTotp(Bytes("short"), params_, "123456", clock_.Now(), -1)
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(TotpParamsTest, Validation) {
  EXPECT_TRUE(CheckTotpParams(TotpParams{}).ok());
  for (TotpAlgorithm alg :
       {TotpAlgorithm::kSha1, TotpAlgorithm::kSha256, TotpAlgorithm::kSha512}) {
    EXPECT_TRUE(CheckTotpParams(TotpParams{.hash = alg}).ok());
  }
  EXPECT_FALSE(
      CheckTotpParams(TotpParams{.hash = static_cast<TotpAlgorithm>(7)}).ok());
  for (int digits : {6, 7, 8}) {
    EXPECT_TRUE(CheckTotpParams(TotpParams{.digits = digits}).ok()) << digits;
  }
  for (int digits : {-1, 0, 5, 9, 10}) {
    EXPECT_EQ(CheckTotpParams(TotpParams{.digits = digits}).code(),
              absl::StatusCode::kInvalidArgument)
        << digits;
  }
  for (int s : {15, 30, 60, 120}) {
    EXPECT_TRUE(CheckTotpParams(TotpParams{.step = absl::Seconds(s)}).ok())
        << s;
  }
  for (absl::Duration d :
       {absl::Seconds(14), absl::Seconds(121), absl::ZeroDuration(),
        -absl::Seconds(30), absl::Milliseconds(30500),
        absl::InfiniteDuration()}) {
    EXPECT_EQ(CheckTotpParams(TotpParams{.step = d}).code(),
              absl::StatusCode::kInvalidArgument)
        << d;
  }
  EXPECT_TRUE(CheckTotpParams(TotpParams{.window = 0}).ok());
  EXPECT_TRUE(CheckTotpParams(TotpParams{.window = kMaxTotpWindow}).ok());
  EXPECT_FALSE(CheckTotpParams(TotpParams{.window = -1}).ok());
  EXPECT_FALSE(CheckTotpParams(TotpParams{.window = kMaxTotpWindow + 1}).ok());
  // TotpCode checks them too.
  EXPECT_EQ(TotpCode(Seed(20), TotpParams{.digits = 9}, At(59)).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(TotpTest, NonDefaultStep) {
  const TotpParams params{.step = absl::Seconds(60)};
  EXPECT_EQ(*TotpTimeStep(params, At(119)), 1);
  // 60 s steps give the 30 s code of half the time.
  EXPECT_EQ(Code(Seed(20), params, At(2LL * 1111111109)),
            Code(Seed(20), TotpParams{}, At(1111111109)));
}

TEST(TotpTest, NewSecretsAreRandomAndUsable) {
  auto a = NewTotpSecret();
  auto b = NewTotpSecret();
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->size(), kTotpSecretSize);
  EXPECT_FALSE(a->ConstantTimeEquals(*b));
  EXPECT_TRUE(TotpCode(*a, TotpParams{}, At(59)).ok());
}

TEST(Base32Test, Rfc4648Vectors) {
  const std::vector<std::pair<std::string, std::string>> vectors = {
      {"", ""},
      {"f", "MY"},
      {"fo", "MZXQ"},
      {"foo", "MZXW6"},
      {"foob", "MZXW6YQ"},
      {"fooba", "MZXW6YTB"},
      {"foobar", "MZXW6YTBOI"},
  };
  for (const auto& [plain, encoded] : vectors) {
    EXPECT_EQ(Base32Encode(Span(plain)), encoded);
    auto decoded = Base32Decode(encoded);
    ASSERT_TRUE(decoded.ok()) << encoded << ": " << decoded.status();
    EXPECT_EQ(decoded->RevealString(), plain);
  }
  // The padded forms of RFC 4648 §10, and lower case.
  for (const auto& [padded, plain] :
       std::vector<std::pair<std::string, std::string>>{
           {"MY======", "f"},
           {"MZXQ====", "fo"},
           {"MZXW6===", "foo"},
           {"MZXW6YQ=", "foob"},
           {"MZXW6YTB", "fooba"},
           {"MZXW6YTBOI======", "foobar"},
           {"mzxw6ytboi", "foobar"},
           {"mZxW6yTbOi======", "foobar"}}) {
    auto decoded = Base32Decode(padded);
    ASSERT_TRUE(decoded.ok()) << padded << ": " << decoded.status();
    EXPECT_EQ(decoded->RevealString(), plain) << padded;
  }
}

TEST(Base32Test, RoundTripsEveryLength) {
  std::string bytes;
  for (int len = 0; len <= 70; ++len) {
    auto encoded = Base32Encode(Span(bytes));
    EXPECT_EQ(encoded.find('='), std::string::npos);
    auto decoded = Base32Decode(encoded);
    ASSERT_TRUE(decoded.ok()) << len << ": " << decoded.status();
    EXPECT_EQ(decoded->RevealString(), bytes) << len;
    bytes.push_back(static_cast<char>(len * 37 + 200));
  }
}

TEST(Base32Test, RefusesMalformedInput) {
  for (absl::string_view bad : {
           "M",                 // 5 bits: impossible length
           "MZX",               // 15 bits: impossible length
           "MZXW6Y",            // 30 bits: impossible length
           "MY=",               // too little padding
           "MY=======",         // too much padding
           "MZXW6YTB========",  // a whole block of padding
           "M=Y",               // padding inside
           "MZ1Q",              // '1' is not in the alphabet
           "MZ8Q",              // nor is '8'
           "MZ Q",              // nor is a space
           "MZ",    // "f" with non-zero unused bits (MY is canonical)
           "MZXR",  // "fo" with non-zero unused bits
       }) {
    auto decoded = Base32Decode(bad);
    EXPECT_EQ(decoded.status().code(), absl::StatusCode::kInvalidArgument)
        << bad;
    if (!bad.empty()) {
      EXPECT_THAT(decoded.status().message(), Not(HasSubstr(bad))) << bad;
    }
  }
}

TEST(OtpauthUriTest, GoogleAuthenticatorFormat) {
  // "Hello!\xDE\xAD\xBE\xEF" + padding to 16 bytes; the first 10 bytes
  // encode as the key-URI documentation's JBSWY3DPEHPK3PXP.
  const SecretBytes secret = Bytes(
      "Hello!\xDE\xAD\xBE\xEF"
      "0123456789");
  ASSERT_EQ(Base32Encode(secret.Reveal().subspan(0, 10)), "JBSWY3DPEHPK3PXP");
  EXPECT_EQ(OtpauthUri("Example", "alice@google.com", secret, TotpParams{}),
            "otpauth://totp/Example:alice@google.com"
            "?secret=JBSWY3DPEHPK3PXPGAYTEMZUGU3DOOBZ&issuer=Example"
            "&algorithm=SHA1&digits=6&period=30");
  const TotpParams params{
      .hash = TotpAlgorithm::kSha512, .digits = 8, .step = absl::Seconds(60)};
  EXPECT_EQ(OtpauthUri("Big Corp", "bob", secret, params),
            "otpauth://totp/Big%20Corp:bob"
            "?secret=JBSWY3DPEHPK3PXPGAYTEMZUGU3DOOBZ&issuer=Big%20Corp"
            "&algorithm=SHA512&digits=8&period=60");
  // The round trip: the secret in the URI decodes to the secret.
  auto decoded = Base32Decode("JBSWY3DPEHPK3PXPGAYTEMZUGU3DOOBZ");
  ASSERT_TRUE(decoded.ok());
  EXPECT_TRUE(decoded->ConstantTimeEquals(secret));
}

TEST(OtpauthUriTest, PercentEncodesLabelAndIssuer) {
  const SecretBytes secret = Seed(20);
  const std::string secret_b32 = Base32Encode(secret.Reveal());
  EXPECT_EQ(
      OtpauthUri("ACME: Co&x", "alice smith:admin/ops?", secret, TotpParams{}),
      "otpauth://totp/ACME%3A%20Co%26x:alice%20smith%3Aadmin%2Fops%3F"
      "?secret=" +
          secret_b32 +
          "&issuer=ACME%3A%20Co%26x&algorithm=SHA1&digits=6&period=30");
  // UTF-8 is encoded byte by byte; no issuer means no prefix, no parameter.
  EXPECT_EQ(OtpauthUri("", "\xE5\x8D\xB0 #1", secret, TotpParams{}),
            "otpauth://totp/%E5%8D%B0%20%231?secret=" + secret_b32 +
                "&algorithm=SHA1&digits=6&period=30");
}

}  // namespace
}  // namespace inkan::sam
