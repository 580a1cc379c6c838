#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/clock.h"
#include "common/encoding.h"
#include "common/random.h"
#include "common/secret_bytes.h"

namespace inkan {
namespace {

TEST(SecretBytesTest, ConstantTimeEqualsComparesContentAndLength) {
  SecretBytes a(absl::string_view("123456"));
  SecretBytes b(absl::string_view("123456"));
  SecretBytes c(absl::string_view("123457"));
  SecretBytes d(absl::string_view("12345"));
  EXPECT_TRUE(a.ConstantTimeEquals(b));
  EXPECT_FALSE(a.ConstantTimeEquals(c));
  EXPECT_FALSE(a.ConstantTimeEquals(d));
}

TEST(SecretBytesTest, MoveLeavesSourceEmpty) {
  SecretBytes a(absl::string_view("secret"));
  SecretBytes b = std::move(a);
  EXPECT_TRUE(a.empty());  // NOLINT(bugprone-use-after-move)
  EXPECT_EQ(b.RevealString(), "secret");
}

TEST(EncodingTest, HexRoundTripAndErrors) {
  EXPECT_EQ(HexEncode(std::string("\x00\xff\x10", 3)), "00ff10");
  EXPECT_EQ(*HexDecode("00FF10"), std::string("\x00\xff\x10", 3));
  EXPECT_FALSE(HexDecode("abc").ok());
  EXPECT_FALSE(HexDecode("zz").ok());
}

TEST(EncodingTest, Base64RoundTripAndErrors) {
  EXPECT_EQ(Base64Encode("hello"), "aGVsbG8=");
  EXPECT_EQ(*Base64Decode("aGVsbG8="), "hello");
  EXPECT_FALSE(Base64Decode("a$b=").ok());
}

TEST(RandomTest, ProducesDistinctValuesOfTheAskedLength) {
  auto a = RandomBytes(32);
  auto b = RandomBytes(32);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->size(), 32u);
  EXPECT_NE(*a, *b);
  EXPECT_EQ(RandomHexId(16)->size(), 32u);
}

TEST(ClockTest, FakeClockAdvancesAndFormats) {
  FakeClock clock(absl::FromUnixSeconds(0));
  clock.Advance(absl::Seconds(90));
  EXPECT_EQ(FormatRfc3339(clock.Now()), "1970-01-01T00:01:30.000000Z");
}

}  // namespace
}  // namespace inkan
