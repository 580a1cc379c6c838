#include "ceremony/shamir.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "common/random.h"

namespace inkan::ceremony {
namespace {

using internal::GfInv;
using internal::GfMul;

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

SecretBytes RandomSecretOrDie(size_t n) {
  auto secret = RandomSecret(n);
  EXPECT_TRUE(secret.ok()) << secret.status();
  return *std::move(secret);
}

std::vector<Share> Pick(const std::vector<Share>& shares,
                        const std::vector<int>& positions) {
  std::vector<Share> out;
  for (int p : positions) out.push_back(shares[p]);
  return out;
}

// A branchy textbook multiply, to check the constant-time one against.
uint8_t ReferenceMul(uint8_t a, uint8_t b) {
  unsigned product = 0;
  for (int i = 0; i < 8; ++i) {
    if (b & (1 << i)) product ^= static_cast<unsigned>(a) << i;
  }
  for (int bit = 14; bit >= 8; --bit) {
    if (product & (1u << bit)) product ^= 0x11Bu << (bit - 8);
  }
  return static_cast<uint8_t>(product);
}

TEST(GfArithmeticTest, MatchesFips197Examples) {
  // FIPS 197 §4.2: {57} • {83} = {c1}, {57} • {13} = {fe}.
  EXPECT_EQ(GfMul(0x57, 0x83), 0xC1);
  EXPECT_EQ(GfMul(0x57, 0x13), 0xFE);
  // FIPS 197 §5.1.1: the S-box takes {53} through its inverse {ca}.
  EXPECT_EQ(GfInv(0x53), 0xCA);
  EXPECT_EQ(GfInv(0xCA), 0x53);
  EXPECT_EQ(GfInv(0x01), 0x01);
  EXPECT_EQ(GfInv(0x00), 0x00);
}

TEST(GfArithmeticTest, MultiplyMatchesReferenceAndInverseInverts) {
  for (int a = 0; a < 256; ++a) {
    for (int b = 0; b < 256; ++b) {
      ASSERT_EQ(GfMul(a, b), ReferenceMul(a, b)) << a << " * " << b;
    }
    if (a != 0) {
      ASSERT_EQ(GfMul(a, GfInv(a)), 1) << a;
    }
  }
}

class ShamirRoundTripTest
    : public testing::TestWithParam<std::tuple<int, int>> {};

TEST_P(ShamirRoundTripTest, AnyKSharesRecoverTheSecret) {
  const auto [k, n] = GetParam();
  const SecretBytes secret = RandomSecretOrDie(n > 100 ? 3 : 32);
  auto shares = SplitSecret(secret, k, n);
  ASSERT_TRUE(shares.ok()) << shares.status();
  ASSERT_EQ(shares->size(), static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    const Share& share = (*shares)[i];
    EXPECT_EQ(share.index, i + 1);
    EXPECT_EQ(share.threshold, k);
    EXPECT_EQ(share.share_count, n);
    EXPECT_EQ(share.set_id, (*shares)[0].set_id);
    EXPECT_EQ(share.value.size(), secret.size());
    EXPECT_TRUE(ValidateShare(share).ok());
  }

  const std::vector<Share> first_k(shares->begin(), shares->begin() + k);
  const std::vector<Share> last_k(shares->end() - k, shares->end());
  std::vector<Share> reversed = *shares;
  std::reverse(reversed.begin(), reversed.end());
  for (const auto& subset : {first_k, last_k, reversed, *shares}) {
    auto recovered = CombineShares(subset);
    ASSERT_TRUE(recovered.ok()) << recovered.status();
    EXPECT_TRUE(recovered->ConstantTimeEquals(secret));
  }
}

INSTANTIATE_TEST_SUITE_P(
    Thresholds, ShamirRoundTripTest,
    testing::Values(std::make_tuple(2, 2), std::make_tuple(2, 3),
                    std::make_tuple(3, 5), std::make_tuple(5, 5),
                    std::make_tuple(4, 9), std::make_tuple(10, 20),
                    std::make_tuple(2, 255), std::make_tuple(128, 255),
                    std::make_tuple(254, 255), std::make_tuple(255, 255)));

TEST(ShamirTest, EveryThreeOfFiveSubsetRecoversTheSecret) {
  const SecretBytes secret = RandomSecretOrDie(32);
  auto shares = SplitSecret(secret, 3, 5);
  ASSERT_TRUE(shares.ok()) << shares.status();
  int subsets = 0;
  for (int mask = 0; mask < 32; ++mask) {
    std::vector<int> positions;
    for (int i = 0; i < 5; ++i) {
      if (mask & (1 << i)) positions.push_back(i);
    }
    if (positions.size() < 3) continue;
    ++subsets;
    auto recovered = CombineShares(Pick(*shares, positions));
    ASSERT_TRUE(recovered.ok()) << recovered.status();
    EXPECT_TRUE(recovered->ConstantTimeEquals(secret)) << "mask " << mask;
  }
  EXPECT_EQ(subsets, 10 + 5 + 1);
}

TEST(ShamirTest, FewerThanKSharesAreRefused) {
  const SecretBytes secret = RandomSecretOrDie(32);
  auto shares = SplitSecret(secret, 3, 5);
  ASSERT_TRUE(shares.ok()) << shares.status();
  EXPECT_THAT(
      CombineShares(Pick(*shares, {0, 4})),
      StatusIs(absl::StatusCode::kInvalidArgument, "need 3 shares of set"));
  EXPECT_THAT(CombineShares({}),
              StatusIs(absl::StatusCode::kInvalidArgument, "no shares"));
}

TEST(ShamirTest, KMinusOneSharesGiveAWrongValue) {
  // Interpolating k-1 shares as if k-1 were the threshold does not give the
  // secret (it differs by a_{k-1} * prod(x_i) in each byte).
  const SecretBytes secret = RandomSecretOrDie(32);
  auto shares = SplitSecret(secret, 3, 5);
  ASSERT_TRUE(shares.ok()) << shares.status();
  for (int i = 0; i < 5; ++i) {
    for (int j = i + 1; j < 5; ++j) {
      std::vector<Share> two = Pick(*shares, {i, j});
      for (Share& share : two) share.threshold = 2;
      auto recovered = CombineShares(two);
      ASSERT_TRUE(recovered.ok()) << recovered.status();
      EXPECT_FALSE(recovered->ConstantTimeEquals(secret)) << i << "," << j;
    }
  }
}

TEST(ShamirTest, OneShareOfTwoOfThreeIsUniformWhateverTheSecret) {
  // For a fixed secret, share 1's and share 3's first bytes over many splits
  // should look uniform on 0..255. Chi-square with 255 degrees of freedom has
  // mean 255 and standard deviation ~22.6; 400 is a generous bound
  // (p < 1e-8 for a uniform source).
  const SecretBytes secret(absl::string_view("\x42\x00", 2));
  constexpr int kSplits = 256 * 100;
  std::array<int, 256> counts1{};
  std::array<int, 256> counts3{};
  for (int i = 0; i < kSplits; ++i) {
    auto shares = SplitSecret(secret, 2, 3);
    ASSERT_TRUE(shares.ok()) << shares.status();
    ++counts1[(*shares)[0].value.Reveal()[0]];
    ++counts3[(*shares)[2].value.Reveal()[0]];
  }
  for (const auto& counts : {counts1, counts3}) {
    const double expected = kSplits / 256.0;
    double chi_square = 0;
    for (int c : counts)
      chi_square += (c - expected) * (c - expected) / expected;
    EXPECT_LT(chi_square, 400.0);
  }
}

TEST(ShamirTest, EachSplitHasItsOwnRandomSetId) {
  const SecretBytes secret = RandomSecretOrDie(32);
  std::set<std::string> ids;
  for (int i = 0; i < 20; ++i) {
    auto shares = SplitSecret(secret, 2, 3);
    ASSERT_TRUE(shares.ok()) << shares.status();
    const std::string& id = (*shares)[0].set_id;
    EXPECT_EQ(id.size(), 16u);
    EXPECT_EQ(id.find_first_not_of("0123456789abcdef"), std::string::npos);
    ids.insert(id);
  }
  EXPECT_EQ(ids.size(), 20u);
}

TEST(ShamirTest, RejectsBadParameters) {
  const SecretBytes secret = RandomSecretOrDie(32);
  for (auto [k, n] :
       {std::make_tuple(1, 3), std::make_tuple(0, 3), std::make_tuple(-1, 3),
        std::make_tuple(4, 3), std::make_tuple(2, 256),
        std::make_tuple(256, 256), std::make_tuple(2, 1)}) {
    EXPECT_THAT(SplitSecret(secret, k, n),
                StatusIs(absl::StatusCode::kInvalidArgument, "2 <= k <= n"))
        << k << " of " << n;
  }
  EXPECT_THAT(SplitSecret(SecretBytes(), 2, 3),
              StatusIs(absl::StatusCode::kInvalidArgument, "empty"));
}

TEST(ShamirTest, RejectsDuplicateIndexes) {
  auto shares = SplitSecret(RandomSecretOrDie(32), 3, 5);
  ASSERT_TRUE(shares.ok()) << shares.status();
  EXPECT_THAT(CombineShares(Pick(*shares, {0, 1, 1})),
              StatusIs(absl::StatusCode::kInvalidArgument, "given twice"));
  EXPECT_THAT(CombineShares(Pick(*shares, {2, 0, 1, 3, 2})),
              StatusIs(absl::StatusCode::kInvalidArgument, "given twice"));
}

TEST(ShamirTest, RejectsSharesOfDifferentSplits) {
  const SecretBytes secret = RandomSecretOrDie(32);
  auto a = SplitSecret(secret, 2, 3);
  auto b = SplitSecret(secret, 2, 3);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_THAT(CombineShares(std::vector<Share>{(*a)[0], (*b)[1]}),
              StatusIs(absl::StatusCode::kInvalidArgument, "different splits"));
  // The same split's shares with a forged set id are refused too.
  std::vector<Share> forged = {(*a)[0], (*a)[1]};
  forged[1].set_id = (*b)[0].set_id;
  EXPECT_THAT(CombineShares(forged),
              StatusIs(absl::StatusCode::kInvalidArgument, "different splits"));
}

TEST(ShamirTest, RejectsSharesThatDisagreeOnKOrN) {
  auto shares = SplitSecret(RandomSecretOrDie(32), 3, 5);
  ASSERT_TRUE(shares.ok()) << shares.status();
  std::vector<Share> mixed_k = Pick(*shares, {0, 1, 2});
  mixed_k[2].threshold = 2;
  EXPECT_THAT(CombineShares(mixed_k),
              StatusIs(absl::StatusCode::kInvalidArgument, "disagree"));
  std::vector<Share> mixed_n = Pick(*shares, {0, 1, 2});
  mixed_n[1].share_count = 6;
  EXPECT_THAT(CombineShares(mixed_n),
              StatusIs(absl::StatusCode::kInvalidArgument, "disagree"));
}

TEST(ShamirTest, RejectsSharesOfDifferingLength) {
  auto shares = SplitSecret(RandomSecretOrDie(32), 2, 3);
  ASSERT_TRUE(shares.ok()) << shares.status();
  std::vector<Share> two = Pick(*shares, {0, 1});
  two[1].value = SecretBytes(two[1].value.Reveal().subspan(0, 31));
  EXPECT_THAT(CombineShares(two),
              StatusIs(absl::StatusCode::kInvalidArgument, "differ in length"));
}

TEST(ShamirTest, RejectsMalformedShares) {
  auto shares = SplitSecret(RandomSecretOrDie(32), 2, 3);
  ASSERT_TRUE(shares.ok()) << shares.status();
  const auto with = [&](auto change) {
    std::vector<Share> two = Pick(*shares, {0, 1});
    change(two[1]);
    return CombineShares(two);
  };
  EXPECT_THAT(with([](Share& s) { s.index = 0; }),
              StatusIs(absl::StatusCode::kInvalidArgument, "index 0"));
  EXPECT_THAT(with([](Share& s) { s.index = 4; }),
              StatusIs(absl::StatusCode::kInvalidArgument, "index 4"));
  EXPECT_THAT(with([](Share& s) { s.value = SecretBytes(); }),
              StatusIs(absl::StatusCode::kInvalidArgument, "empty"));
  EXPECT_THAT(with([](Share& s) { s.set_id = "Not-Hex"; }),
              StatusIs(absl::StatusCode::kInvalidArgument, "set id"));
  EXPECT_THAT(with([](Share& s) { s.threshold = 1; }),
              StatusIs(absl::StatusCode::kInvalidArgument, "k=1"));
}

}  // namespace
}  // namespace inkan::ceremony
