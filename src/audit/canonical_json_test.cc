#include "audit/canonical_json.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "audit/timestamp.h"

namespace inkan::audit {
namespace {

using ::testing::HasSubstr;

std::string Canonical(std::vector<Field> fields) {
  absl::StatusOr<std::string> text = CanonicalObject(fields);
  EXPECT_TRUE(text.ok()) << text.status();
  return text.ok() ? *text : "";
}

TEST(CanonicalJsonTest, SortsKeysBytewise) {
  EXPECT_EQ(Canonical({{"b", int64_t{1}}, {"a", true}, {"B", "x"}}),
            R"({"B":"x","a":true,"b":1})");
  // UTF-8 byte order: U+00E9 (c3 a9) sorts after "z" and before U+4E00.
  EXPECT_EQ(Canonical({{"\xe4\xb8\x80", int64_t{3}},
                       {"z", int64_t{1}},
                       {"\xc3\xa9", int64_t{2}}}),
            "{\"z\":1,\"\xc3\xa9\":2,\"\xe4\xb8\x80\":3}");
  // A prefix sorts first.
  EXPECT_EQ(Canonical({{"ab", int64_t{2}}, {"a", int64_t{1}}}),
            R"({"a":1,"ab":2})");
  EXPECT_EQ(Canonical({}), "{}");
}

TEST(CanonicalJsonTest, EscapesMinimally) {
  std::string all_controls;
  for (int c = 0; c < 0x20; ++c) all_controls.push_back(static_cast<char>(c));
  std::string out;
  ASSERT_TRUE(AppendJsonString(all_controls, out).ok());
  EXPECT_EQ(out,
            R"("\u0000\u0001\u0002\u0003\u0004\u0005\u0006\u0007\b\t\n\u000b)"
            R"(\f\r\u000e\u000f\u0010\u0011\u0012\u0013\u0014\u0015\u0016)"
            R"(\u0017\u0018\u0019\u001a\u001b\u001c\u001d\u001e\u001f")");
  out.clear();
  ASSERT_TRUE(
      AppendJsonString("\"\\/\x7f\xc3\xa9\xf0\x9f\x98\x80<>&'", out).ok());
  EXPECT_EQ(out, "\"\\\"\\\\/\x7f\xc3\xa9\xf0\x9f\x98\x80<>&'\"");
}

TEST(CanonicalJsonTest, IntegersAndBooleans) {
  EXPECT_EQ(Canonical({{"a", int64_t{0}},
                       {"b", int64_t{-1}},
                       {"c", std::numeric_limits<int64_t>::min()},
                       {"d", std::numeric_limits<int64_t>::max()},
                       {"e", false}}),
            R"({"a":0,"b":-1,"c":-9223372036854775808,)"
            R"("d":9223372036854775807,"e":false})");
}

TEST(CanonicalJsonTest, RejectsDuplicateKeysAndBadUtf8WhenWriting) {
  EXPECT_FALSE(CanonicalObject({{"a", int64_t{1}}, {"a", int64_t{2}}}).ok());
  for (std::string bad : {
           std::string("\xff"),
           std::string("\xc0\xaf"),          // overlong '/'
           std::string("\xe0\x80\xaf"),      // overlong
           std::string("\xed\xa0\x80"),      // surrogate U+D800
           std::string("\xf4\x90\x80\x80"),  // > U+10FFFF
           std::string("\xc3"),              // truncated
           std::string("\x80"),              // lone continuation
       }) {
    std::string out;
    EXPECT_FALSE(AppendJsonString(bad, out).ok())
        << testing::PrintToString(bad);
    EXPECT_FALSE(CanonicalObject({{"k", bad}}).ok());
    EXPECT_FALSE(CanonicalObject({{bad, int64_t{1}}}).ok());
  }
}

TEST(CanonicalJsonTest, AcceptsItsOwnOutput) {
  std::string text =
      Canonical({{"actor", "alice"},
                 {"note", "tab\there \"quoted\" \\ \x01 \xc3\xa9"},
                 {"n", int64_t{-42}},
                 {"ok", true}});
  EXPECT_TRUE(CheckCanonical(text).ok()) << CheckCanonical(text) << text;
  EXPECT_TRUE(IsCanonical(R"({"a":{"b":{"c":1}},"d":"e"})"));
  EXPECT_TRUE(IsCanonical("{}"));
}

TEST(CanonicalJsonTest, RejectsEverythingElse) {
  struct Case {
    std::string text;
    std::string why;
  };
  std::vector<Case> cases = {
      {R"({"b":1,"a":2})", "keys out of order"},
      {R"({"a":1,"a":2})", ""},  // duplicate
      {R"({"a":1,"b":2,"a":3})", ""},
      {R"({"a": 1})", "canonical form at byte 5"},
      {R"( {"a":1})", ""},
      {R"({"a":1} )", ""},
      {"{\"a\":1}\n", ""},
      {R"({"a":1.0})", "not an integer"},
      {R"({"a":1e3})", "not an integer"},
      {R"({"a":-0})", ""},
      {R"({"a":01})", "not valid JSON"},
      {R"({"a":9223372036854775808})", "out of int64 range"},
      {R"({"a":-9223372036854775809})", "not an integer"},
      {R"({"a":null})", "null"},
      {R"({"a":[1]})", "arrays"},
      {R"([1])", "not a JSON object"},
      {R"("a")", "not a JSON object"},
      {R"({"a":"\u00e9"})", ""},  // must be the raw character
      {R"({"a":"\/"})", ""},      // '/' is not escaped
      {R"({"a":"\u000A"})", ""},  // short form \n
      {R"({"a":"\u001F"})", ""},  // lowercase hex
      {R"({"a":"\u0041"})", ""},  // 'A' is not escaped
      {R"({"a":"\ud800"})", ""},  // lone surrogate
      {"{\"a\":\"\xff\"}", ""},   // not UTF-8
      {"{\"a\":\"\xed\xa0\x80\"}", ""},
      {"{\"a\":\"\x01\"}", ""},  // raw control character
      {R"({"a":1,})", "not valid JSON"},
      {R"({'a':1})", "not valid JSON"},
      {R"({"a":true)", "not valid JSON"},
      {"", "not valid JSON"},
  };
  for (const Case& c : cases) {
    absl::Status s = CheckCanonical(c.text);
    EXPECT_FALSE(s.ok()) << c.text;
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << c.text;
    if (!c.why.empty()) {
      EXPECT_THAT(s.message(), HasSubstr(c.why)) << c.text;
    }
  }
}

Entry SampleEntry() {
  return Entry{7,
               FormatTimestamp(absl::FromUnixMicros(1795683600123456)),
               "credential.create",
               {{"user", "alice"},
                {"credential", "c0ffee"},
                {"algorithm", "ec-p256"},
                {"actor", "admin"},
                {"attempt", int64_t{1}},
                {"ok", true}}};
}

TEST(CanonicalJsonTest, EntryRoundTrip) {
  Entry entry = SampleEntry();
  absl::StatusOr<std::string> text = SerializeEntry(entry);
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_EQ(
      *text,
      R"({"data":{"actor":"admin","algorithm":"ec-p256","attempt":1,)"
      R"("credential":"c0ffee","ok":true,"user":"alice"},"seq":7,)"
      R"("time":"2026-11-26T09:00:00.123456Z","type":"credential.create"})");
  EXPECT_TRUE(IsCanonical(*text));
  absl::StatusOr<Entry> parsed = ParseEntry(*text);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->seq, 7);
  EXPECT_EQ(parsed->time, entry.time);
  EXPECT_EQ(parsed->type, entry.type);
  // Fields come back sorted.
  std::sort(entry.data.begin(), entry.data.end(),
            [](const Field& a, const Field& b) { return a.key < b.key; });
  EXPECT_EQ(parsed->data, entry.data);
  EXPECT_EQ(*SerializeEntry(*parsed), *text);
}

TEST(CanonicalJsonTest, SerializeEntryValidates) {
  Entry e = SampleEntry();
  e.seq = 0;
  EXPECT_FALSE(SerializeEntry(e).ok());
  e = SampleEntry();
  e.type = "";
  EXPECT_FALSE(SerializeEntry(e).ok());
  e = SampleEntry();
  e.time = "2026-11-26T09:00:00Z";
  EXPECT_FALSE(SerializeEntry(e).ok());
  e = SampleEntry();
  e.data.push_back({"user", "bob"});
  EXPECT_FALSE(SerializeEntry(e).ok());
  e = SampleEntry();
  e.type = "\xff";
  EXPECT_FALSE(SerializeEntry(e).ok());
}

TEST(CanonicalJsonTest, ParseEntryRejectsWrongShapes) {
  const std::string time = "\"time\":\"2026-11-26T09:00:00.000000Z\"";
  std::vector<std::string> bad = {
      R"({"data":{},"seq":1,"type":"x"})",          // no time
      "{\"data\":{}," + time + ",\"type\":\"x\"}",  // no seq
      "{\"seq\":1," + time + ",\"type\":\"x\"}",    // no data
      "{\"data\":{},\"seq\":1," + time + "}",       // no type
      "{\"data\":{},\"extra\":1,\"seq\":1," + time + ",\"type\":\"x\"}",
      "{\"data\":{\"a\":{}},\"seq\":1," + time + ",\"type\":\"x\"}",
      "{\"data\":1,\"seq\":1," + time + ",\"type\":\"x\"}",
      "{\"data\":{},\"seq\":0," + time + ",\"type\":\"x\"}",
      "{\"data\":{},\"seq\":\"1\"," + time + ",\"type\":\"x\"}",
      "{\"data\":{},\"seq\":1," + time + ",\"type\":\"\"}",
      "{\"data\":{},\"seq\":1," + time + ",\"type\":1}",
      R"({"data":{},"seq":1,"time":"2026-11-26 09:00:00.000000Z","type":"x"})",
      R"({"data":{},"seq":1,"time":"2026-02-30T09:00:00.000000Z","type":"x"})",
      R"({"data":{},"seq":1,"time":"2026-11-26T09:00:00.000000+00:00","type":"x"})",
      "{\"data\":{},\"seq\":1, " + time + ",\"type\":\"x\"}",
  };
  for (const std::string& text : bad) {
    EXPECT_FALSE(ParseEntry(text).ok()) << text;
  }
  EXPECT_TRUE(
      ParseEntry("{\"data\":{},\"seq\":1," + time + ",\"type\":\"x\"}").ok());
}

TEST(TimestampTest, FormatsAndParsesStrictly) {
  absl::Time t =
      absl::FromUnixMicros(1795683600123456) + absl::Nanoseconds(789);
  EXPECT_EQ(FormatTimestamp(t), "2026-11-26T09:00:00.123456Z");
  EXPECT_EQ(*ParseTimestamp("2026-11-26T09:00:00.123456Z"),
            absl::FromUnixMicros(1795683600123456));
  for (const char* bad :
       {"2026-11-26T09:00:00.12345Z", "2026-11-26T09:00:00.1234567Z",
        "2026-11-26t09:00:00.123456Z", "2026-11-26T09:00:00.123456z",
        "2026-11-26T09:00:60.000000Z", "2026-13-01T00:00:00.000000Z",
        "2026-11-26T09:00:00.123456+00:00", " 2026-11-26T09:00:00.123456Z",
        ""}) {
    EXPECT_FALSE(ParseTimestamp(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace inkan::audit
