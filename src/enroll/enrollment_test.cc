#include "enroll/enrollment.h"

#include <gtest/gtest.h>

#include "enroll/qr.h"

namespace inkan::enroll {
namespace {

TEST(ParseCodeTest, TakesOnlyTheIssuedShape) {
  const std::string good = "abcdefghijklmnop.abcdefghijklmnopqrstuvwxyz234567";
  auto parsed = ParseCode(good);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->id, "abcdefghijklmnop");
  EXPECT_EQ(parsed->secret.size(), 20u);
  EXPECT_TRUE(ParseCode("  " + good + "\n").ok());  // pasted with spaces
  EXPECT_TRUE(ParseCode("ABCDEFGHIJKLMNOP.ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
                  .ok());  // any case
  for (const char* bad :
       {"", ".", "abcdefghijklmnop", "abcdefghijklmnop.",
        "abcdefghijklmno.abcdefghijklmnopqrstuvwxyz234567",    // short id
        "abcdefghijklmnop.abcdefghijklmnopqrstuvwxyz23456",    // short secret
        "abcdefghijklmnop.abcdefghijklmnopqrstuvwxyz2345678",  // long
        "abcdefghijklmn01.abcdefghijklmnopqrstuvwxyz234567",   // not base32
        "abcdefghijklmnop-abcdefghijklmnopqrstuvwxyz234567"}) {
    EXPECT_TRUE(absl::IsInvalidArgument(ParseCode(bad).status())) << bad;
  }
}

TEST(QrTest, DrawsAnSvgAndRefusesWhatDoesNotFit) {
  auto svg = QrSvg("otpauth://totp/inkan:erin?secret=ABC&issuer=inkan", "QR");
  ASSERT_TRUE(svg.ok());
  EXPECT_EQ(svg->rfind("<svg ", 0), 0u);
  EXPECT_NE(svg->find("aria-label=\"QR\""), std::string::npos);
  EXPECT_NE(svg->find("h1v1h-1z"), std::string::npos);
  EXPECT_FALSE(QrSvg(std::string(8000, 'x'), "QR").ok());
}

}  // namespace
}  // namespace inkan::enroll
