#include "ceremony/share_codec.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "ceremony/shamir.h"
#include "common/random.h"

namespace inkan::ceremony {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

template <typename T>
const absl::Status& StatusOf(const absl::StatusOr<T>& s) {
  return s.status();
}
const absl::Status& StatusOf(const absl::Status& s) { return s; }

MATCHER_P2(StatusIs, code, substring, "") {
  const absl::Status& status = StatusOf(arg);
  *result_listener << "status is " << status;
  return status.code() == code &&
         absl::StrContains(status.message(), substring);
}

std::vector<Share> SplitOrDie(size_t secret_size, int k, int n) {
  auto secret = RandomSecret(secret_size);
  EXPECT_TRUE(secret.ok()) << secret.status();
  auto shares = SplitSecret(*secret, k, n);
  EXPECT_TRUE(shares.ok()) << shares.status();
  return *std::move(shares);
}

std::string EncodeOrDie(const Share& share) {
  auto text = EncodeShare(share);
  EXPECT_TRUE(text.ok()) << text.status();
  return std::string(text->RevealString());
}

absl::StatusOr<Share> Decode(absl::string_view text) {
  return DecodeShare(SecretBytes(text));
}

void ExpectSameShare(const Share& a, const Share& b) {
  EXPECT_EQ(a.index, b.index);
  EXPECT_EQ(a.threshold, b.threshold);
  EXPECT_EQ(a.share_count, b.share_count);
  EXPECT_EQ(a.set_id, b.set_id);
  EXPECT_TRUE(a.value.ConstantTimeEquals(b.value));
}

TEST(ShareCodecTest, RoundTripsAndHasTheDocumentedShape) {
  const std::vector<Share> shares = SplitOrDie(32, 3, 5);
  for (const Share& share : shares) {
    const std::string text = EncodeOrDie(share);
    EXPECT_TRUE(
        absl::StartsWith(text, absl::StrCat("inkan-share1-", share.set_id,
                                            "-3of5-", share.index, "-")))
        << text;
    const std::vector<std::string> fields = absl::StrSplit(text, '-');
    // 5 header fields, ceil(52 / 4) = 13 payload groups of 4, the check.
    ASSERT_EQ(fields.size(), 5u + 13u + 1u) << text;
    for (size_t i = 5; i < 18; ++i) {
      EXPECT_EQ(fields[i].size(), 4u) << text;
      EXPECT_EQ(fields[i].find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"),
                std::string::npos)
          << text;
    }
    EXPECT_EQ(fields.back().size(), 8u) << text;

    auto decoded = Decode(text);
    ASSERT_TRUE(decoded.ok()) << decoded.status();
    ExpectSameShare(*decoded, share);
  }
}

TEST(ShareCodecTest, RoundTripsEveryPayloadLength) {
  for (size_t len = 1; len <= 41; ++len) {
    const std::vector<Share> shares = SplitOrDie(len, 2, 255);
    for (const Share& share : {shares[0], shares[254]}) {
      auto decoded = Decode(EncodeOrDie(share));
      ASSERT_TRUE(decoded.ok()) << "length " << len << ": " << decoded.status();
      ExpectSameShare(*decoded, share);
    }
  }
}

TEST(ShareCodecTest, IgnoresCaseAndWhitespace) {
  const Share share = SplitOrDie(32, 2, 3)[1];
  const std::string text = EncodeOrDie(share);
  std::string spaced;
  for (size_t i = 0; i < text.size(); ++i) {
    if (i % 5 == 0) spaced += " ";
    if (i % 23 == 0) spaced += "\r\n\t";
    spaced += text[i];
  }
  spaced += "\n";
  for (const std::string& variant :
       {absl::AsciiStrToLower(text), absl::AsciiStrToUpper(text), spaced,
        absl::AsciiStrToLower(spaced), absl::StrCat("  ", text, "\n\n")}) {
    auto decoded = Decode(variant);
    ASSERT_TRUE(decoded.ok()) << variant << ": " << decoded.status();
    ExpectSameShare(*decoded, share);
  }
}

TEST(ShareCodecTest, EverySingleCharacterChangeIsDetected) {
  const Share share = SplitOrDie(32, 3, 5)[2];
  const std::string text = EncodeOrDie(share);
  const std::string alphabet = "abcdefghijklmnopqrstuvwxyz0123456789-";
  const size_t prefix = kShareTextPrefix.size();
  const size_t payload_start = text.find('-', text.find("of5-") + 4) + 1;
  int changes = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    for (char c : alphabet) {
      if (c == absl::ascii_tolower(text[i])) continue;
      std::string changed = text;
      changed[i] = c;
      ++changes;
      auto decoded = Decode(changed);
      ASSERT_THAT(decoded, StatusIs(absl::StatusCode::kInvalidArgument, ""))
          << "position " << i << " -> '" << c << "': " << changed;
      if (i >= prefix) {
        EXPECT_THAT(decoded, StatusIs(absl::StatusCode::kInvalidArgument,
                                      "fails its checksum"))
            << "position " << i << " -> '" << c << "'";
      }
      if (i >= payload_start) {
        // The share is named: what the custodian must re-enter.
        EXPECT_THAT(decoded,
                    StatusIs(absl::StatusCode::kInvalidArgument,
                             absl::StrCat("share 3 of set ", share.set_id)))
            << "position " << i << " -> '" << c << "'";
      }
    }
  }
  EXPECT_GT(changes, 3000);
}

TEST(ShareCodecTest, AdjacentSwapsAndDroppedCharactersAreDetected) {
  const std::string text = EncodeOrDie(SplitOrDie(32, 3, 5)[0]);
  for (size_t i = 0; i + 1 < text.size(); ++i) {
    if (absl::ascii_tolower(text[i]) == absl::ascii_tolower(text[i + 1])) {
      continue;
    }
    std::string swapped = text;
    std::swap(swapped[i], swapped[i + 1]);
    EXPECT_FALSE(Decode(swapped).ok()) << "swap at " << i;
  }
  for (size_t i = 0; i < text.size(); ++i) {
    std::string dropped = text;
    dropped.erase(i, 1);
    EXPECT_FALSE(Decode(dropped).ok()) << "drop at " << i;
  }
}

TEST(ShareCodecTest, ErrorsNameTheShareButNeverShowThePayload) {
  const Share share = SplitOrDie(32, 2, 3)[1];
  std::string text = EncodeOrDie(share);
  const std::vector<std::string> fields = absl::StrSplit(text, '-');
  text[text.size() - 12] = text[text.size() - 12] == 'A' ? 'B' : 'A';
  auto decoded = Decode(text);
  ASSERT_FALSE(decoded.ok());
  EXPECT_THAT(decoded.status().message(),
              HasSubstr(absl::StrCat("share 2 of set ", share.set_id)));
  for (size_t i = 5; i + 1 < fields.size(); ++i) {
    EXPECT_THAT(decoded.status().message(), Not(HasSubstr(fields[i])));
  }
}

TEST(ShareCodecTest, RejectsTextThatIsNotAShare) {
  EXPECT_THAT(Decode(""), StatusIs(absl::StatusCode::kInvalidArgument,
                                   "not an inkan share"));
  EXPECT_THAT(
      Decode("hello world"),
      StatusIs(absl::StatusCode::kInvalidArgument, "not an inkan share"));
  std::string text = EncodeOrDie(SplitOrDie(32, 2, 3)[0]);
  text[11] = '2';  // inkan-share2-...
  EXPECT_THAT(Decode(text), StatusIs(absl::StatusCode::kInvalidArgument,
                                     "unsupported share format"));
  EXPECT_THAT(Decode(std::string(20000, 'a')),
              StatusIs(absl::StatusCode::kInvalidArgument, "too long"));
}

TEST(ShareCodecTest, EncodeRefusesMalformedShares) {
  const Share good = SplitOrDie(32, 2, 3)[0];
  const auto with = [&](auto change) {
    Share share = good;
    change(share);
    return EncodeShare(share);
  };
  EXPECT_THAT(with([](Share& s) { s.index = 0; }),
              StatusIs(absl::StatusCode::kInvalidArgument, "index"));
  EXPECT_THAT(with([](Share& s) { s.index = 4; }),
              StatusIs(absl::StatusCode::kInvalidArgument, "index"));
  EXPECT_THAT(with([](Share& s) { s.threshold = 4; }),
              StatusIs(absl::StatusCode::kInvalidArgument, "2 <= k <= n"));
  EXPECT_THAT(with([](Share& s) { s.set_id = "ab-cd"; }),
              StatusIs(absl::StatusCode::kInvalidArgument, "set id"));
  EXPECT_THAT(with([](Share& s) { s.set_id = "ABCD"; }),
              StatusIs(absl::StatusCode::kInvalidArgument, "set id"));
  EXPECT_THAT(with([](Share& s) { s.set_id.clear(); }),
              StatusIs(absl::StatusCode::kInvalidArgument, "set id"));
  EXPECT_THAT(with([](Share& s) { s.value = SecretBytes(); }),
              StatusIs(absl::StatusCode::kInvalidArgument, "empty"));
}

TEST(ShareCommitmentTest, AcceptsTheShareItWasMadeFor) {
  for (const Share& share : SplitOrDie(32, 3, 5)) {
    const std::string commitment = ShareCommitment(share);
    EXPECT_EQ(commitment.size(), kShareCommitmentSize);
    auto decoded = Decode(EncodeOrDie(share));
    ASSERT_TRUE(decoded.ok()) << decoded.status();
    EXPECT_TRUE(VerifyShareCommitment(*decoded, commitment).ok());
  }
}

TEST(ShareCommitmentTest, DetectsAShareAlteredWithARecomputedChecksum) {
  const Share original = SplitOrDie(32, 3, 5)[3];
  const std::string commitment = ShareCommitment(original);

  // An attacker changes one byte of the value and writes out a new text form
  // with a valid checksum: the text decodes, but the commitment catches it.
  Share altered = original;
  altered.value.MutableData()[7] ^= 0x20;
  auto decoded = Decode(EncodeOrDie(altered));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_THAT(VerifyShareCommitment(*decoded, commitment),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       absl::StrCat("share 4 of set ", original.set_id,
                                    " does not match the commitment")));
}

TEST(ShareCommitmentTest, CoversEveryField) {
  const std::vector<Share> shares = SplitOrDie(32, 3, 5);
  const Share& original = shares[0];
  const std::string commitment = ShareCommitment(original);
  const auto with = [&](auto change) {
    Share share = original;
    change(share);
    return VerifyShareCommitment(share, commitment);
  };
  const absl::StatusCode kBad = absl::StatusCode::kInvalidArgument;
  EXPECT_THAT(with([](Share& s) { s.index = 2; }),
              StatusIs(kBad, "commitment"));
  EXPECT_THAT(with([](Share& s) { s.threshold = 2; }),
              StatusIs(kBad, "commitment"));
  EXPECT_THAT(with([](Share& s) { s.share_count = 6; }),
              StatusIs(kBad, "commitment"));
  EXPECT_THAT(with([](Share& s) { s.set_id[0] ^= 1; }),
              StatusIs(kBad, "commitment"));
  EXPECT_THAT(with([](Share& s) { s.value.Append("x"); }),
              StatusIs(kBad, "commitment"));
  // Another share of the same split has its own commitment.
  EXPECT_THAT(VerifyShareCommitment(shares[1], commitment),
              StatusIs(kBad, "commitment"));
  EXPECT_THAT(VerifyShareCommitment(original, commitment.substr(0, 31)),
              StatusIs(kBad, "not a 32-byte"));
}

}  // namespace
}  // namespace inkan::ceremony
