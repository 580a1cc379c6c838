#include "ca/name.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

namespace inkan::ca {
namespace {

using ::testing::HasSubstr;

void ExpectInvalid(absl::string_view text, absl::string_view why) {
  auto name = ParseName(text);
  EXPECT_EQ(name.status().code(), absl::StatusCode::kInvalidArgument) << text;
  EXPECT_THAT(name.status().message(), HasSubstr(why)) << text;
}

TEST(NameTest, ParsesRfc4514InReverseDerOrder) {
  auto name = ParseName("CN=Alice,O=Example,C=JP");
  ASSERT_TRUE(name.ok()) << name.status();
  EXPECT_EQ(*name, (Name{{{"C", "JP"}, {"O", "Example"}, {"CN", "Alice"}}}));
  EXPECT_EQ(FormatName(*name), "CN=Alice,O=Example,C=JP");
}

TEST(NameTest, KeywordsAreCaseInsensitiveAndCanonicalised) {
  auto name = ParseName("cn=Alice, commonName=Bob, givenname=A, sn=B, c=JP");
  ASSERT_TRUE(name.ok()) << name.status();
  EXPECT_EQ(FormatName(*name), "CN=Alice,CN=Bob,GN=A,SN=B,C=JP");
}

TEST(NameTest, UnescapesAndEscapesSpecialCharacters) {
  auto name = ParseName(
      R"(CN=Doe\, John \+ Co\=op,O=\"Q\"\;\<\>\\,OU=\ lead\#,L=trail\ ,)"
      R"(ST=\E5\8D\B0\E9\91\91)");
  ASSERT_TRUE(name.ok()) << name.status();
  ASSERT_EQ(name->rdns.size(), 5u);
  EXPECT_EQ(name->rdns[4].value, "Doe, John + Co=op");
  EXPECT_EQ(name->rdns[3].value, R"("Q";<>\)");
  EXPECT_EQ(name->rdns[2].value, " lead#");
  EXPECT_EQ(name->rdns[1].value, "trail ");
  EXPECT_EQ(name->rdns[0].value, "印鑑");
  auto again = ParseName(FormatName(*name));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*again, *name);
}

TEST(NameTest, RejectsWhatItDoesNotSupport) {
  ExpectInvalid("", "empty");
  ExpectInvalid("Alice", "TYPE=value");
  ExpectInvalid("XX=Alice", "unknown name attribute type");
  ExpectInvalid("CN=", "empty value");
  ExpectInvalid("CN=Alice,", "ends with a comma");
  ExpectInvalid("CN=Alice+UID=1", "multi-valued");
  ExpectInvalid("CN=#0403616263", "#hex");
  ExpectInvalid("CN= Alice", "leading space");
  ExpectInvalid("CN=Alice ,C=JP", "trailing space");
  ExpectInvalid("CN=A\"B", "must be escaped");
  ExpectInvalid("CN=A;B", "must be escaped");
  ExpectInvalid("CN=A\\qB", "bad escape");
  ExpectInvalid("CN=A\\", "dangling");
  ExpectInvalid("CN=A\\0aB", "control character");
  ExpectInvalid("CN=\\FF", "not UTF-8");
  ExpectInvalid("C=jp", "two-letter");
  ExpectInvalid("C=JPN", "two-letter");
  ExpectInvalid("CN=" + std::string(65, 'a'), "too long");
  ExpectInvalid("DC=\\E5\\8D\\B0", "characters its type does not allow");
}

TEST(NameTest, EncodeNameChecksStructuredInput) {
  EXPECT_EQ(EncodeName(Name{}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(EncodeName(Name{{{"CN", ""}}}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(EncodeName(Name{{{"bogus", "x"}}}).status().code(),
            absl::StatusCode::kInvalidArgument);
  auto der = EncodeName(Name{{{"C", "JP"}, {"CN", "印鑑 太郎"}}});
  ASSERT_TRUE(der.ok()) << der.status();
  // C as PrintableString (0x13), CN as UTF8String (0x0c).
  EXPECT_NE(der->find("\x13\x02JP"), std::string::npos);
  EXPECT_NE(der->find('\x0c'), std::string::npos);
}

}  // namespace
}  // namespace inkan::ca
