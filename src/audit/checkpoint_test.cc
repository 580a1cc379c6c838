#include "audit/checkpoint.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "absl/time/time.h"
#include "audit/merkle.h"
#include "crypto/software_signer.h"

namespace inkan::audit {
namespace {

constexpr crypto::SignatureScheme kAuditScheme{crypto::KeyAlgorithm::kEcP256,
                                               crypto::HashAlgorithm::kSha256};

CheckpointNote SampleNote() {
  return CheckpointNote{"inkan.example.jp/audit", 8,
                        std::string(kHashSize, '\x5d'),
                        absl::FromUnixMicros(1795683600123456)};
}

TEST(CheckpointTest, FormatsTheDocumentedNote) {
  absl::StatusOr<std::string> text = FormatCheckpointNote(SampleNote());
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_EQ(*text,
            "inkan.audit.v1\n"
            "inkan.example.jp/audit\n"
            "8\n"
            "XV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV0=\n"
            "2026-11-26T09:00:00.123456Z\n");
  absl::StatusOr<CheckpointNote> parsed = ParseCheckpointNote(*text);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(*parsed, SampleNote());
}

TEST(CheckpointTest, FormatValidates) {
  CheckpointNote note = SampleNote();
  note.log_id = "has space";
  EXPECT_FALSE(FormatCheckpointNote(note).ok());
  note.log_id = "";
  EXPECT_FALSE(FormatCheckpointNote(note).ok());
  note.log_id = std::string(129, 'x');
  EXPECT_FALSE(FormatCheckpointNote(note).ok());
  note = SampleNote();
  note.root_hash.pop_back();
  EXPECT_FALSE(FormatCheckpointNote(note).ok());
  note = SampleNote();
  note.tree_size = -1;
  EXPECT_FALSE(FormatCheckpointNote(note).ok());
}

TEST(CheckpointTest, ParseIsStrict) {
  const std::string good = *FormatCheckpointNote(SampleNote());
  ASSERT_TRUE(ParseCheckpointNote(good).ok());
  auto replace_line = [&](int line, const std::string& with) {
    std::string out;
    int i = 0;
    size_t start = 0;
    for (size_t nl = good.find('\n'); nl != std::string::npos;
         start = nl + 1, nl = good.find('\n', start), ++i) {
      out += (i == line ? with : good.substr(start, nl - start)) + "\n";
    }
    return out;
  };
  const std::string root = "XV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV0";
  for (const std::string& bad : {
           good.substr(0, good.size() - 1),  // no final newline
           good + "\n",                      // extra blank line
           good + "extension\n",             // extra line
           replace_line(0, "inkan.audit.v2"),
           replace_line(1, "two words"),
           replace_line(1, ""),
           replace_line(2, "08"),
           replace_line(2, "-8"),
           replace_line(2, "+8"),
           replace_line(2, " 8"),
           replace_line(2, "8.0"),
           replace_line(3, root),         // no padding
           replace_line(3, root + "=="),  // too much padding
           replace_line(3, "XV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1d"),
           replace_line(3, "XV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV0_"),
           replace_line(4, "2026-11-26T09:00:00Z"),
           replace_line(4, "2026-11-26T09:00:00.123456+00:00"),
       }) {
    EXPECT_FALSE(ParseCheckpointNote(bad).ok()) << bad;
  }
  // Same note with \r\n line ends.
  std::string crlf;
  for (char c : good)
    crlf += c == '\n' ? std::string("\r\n") : std::string(1, c);
  EXPECT_FALSE(ParseCheckpointNote(crlf).ok());
}

TEST(CheckpointTest, SignsAndVerifies) {
  auto key = crypto::GenerateSoftwareKey(crypto::KeyAlgorithm::kEcP256);
  ASSERT_TRUE(key.ok()) << key.status();
  auto signer = crypto::NewSoftwareSigner(*key, kAuditScheme);
  ASSERT_TRUE(signer.ok()) << signer.status();
  auto verifier =
      crypto::NewVerifier((*signer)->public_key_der(), kAuditScheme);
  ASSERT_TRUE(verifier.ok()) << verifier.status();

  const std::string note = *FormatCheckpointNote(SampleNote());
  absl::StatusOr<std::string> sig = SignCheckpointNote(**signer, note);
  ASSERT_TRUE(sig.ok()) << sig.status();
  EXPECT_TRUE(VerifyCheckpointSignature(**verifier, note, *sig).ok());

  std::string other_note = note;
  other_note[other_note.size() - 3] ^= 1;
  EXPECT_FALSE(VerifyCheckpointSignature(**verifier, other_note, *sig).ok());
  std::string bad_sig = *sig;
  bad_sig[bad_sig.size() - 1] ^= 1;
  EXPECT_FALSE(VerifyCheckpointSignature(**verifier, note, bad_sig).ok());
  EXPECT_FALSE(VerifyCheckpointSignature(**verifier, note, "").ok());
}

TEST(CheckpointTest, RefusesAnAuditKeyOfAnotherKind) {
  constexpr crypto::SignatureScheme kP384{crypto::KeyAlgorithm::kEcP384,
                                          crypto::HashAlgorithm::kSha384};
  auto key = crypto::GenerateSoftwareKey(crypto::KeyAlgorithm::kEcP384);
  ASSERT_TRUE(key.ok()) << key.status();
  auto signer = crypto::NewSoftwareSigner(*key, kP384);
  ASSERT_TRUE(signer.ok()) << signer.status();
  EXPECT_EQ(SignCheckpointNote(**signer, "note\n").status().code(),
            absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace inkan::audit
