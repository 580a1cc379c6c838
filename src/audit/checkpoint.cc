#include "audit/checkpoint.h"

#include <string>
#include <vector>

#include "absl/algorithm/container.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "audit/merkle.h"
#include "audit/timestamp.h"
#include "common/encoding.h"
#include "common/status_macros.h"
#include "crypto/digest.h"

namespace inkan::audit {
namespace {

constexpr size_t kMaxLogIdLength = 128;

// Decimal without sign or leading zeros, within int64.
bool ParseSize(absl::string_view text, int64_t& out) {
  return !text.empty() && text.size() <= 18 &&
         (text.size() == 1 || text[0] != '0') &&
         absl::c_all_of(
             text,
             [](char c) {
               return absl::ascii_isdigit(static_cast<unsigned char>(c));
             }) &&
         absl::SimpleAtoi(text, &out);
}

}  // namespace

absl::Status ValidateLogId(absl::string_view log_id) {
  if (log_id.empty() || log_id.size() > kMaxLogIdLength) {
    return absl::InvalidArgumentError(absl::StrCat(
        "log id must be 1 to ", kMaxLogIdLength, " characters long"));
  }
  for (char c : log_id) {
    if (c < 0x21 || c > 0x7e) {
      return absl::InvalidArgumentError(
          "log id must be printable ASCII without spaces");
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> FormatCheckpointNote(const CheckpointNote& note) {
  RETURN_IF_ERROR(ValidateLogId(note.log_id));
  if (note.tree_size < 0) {
    return absl::InvalidArgumentError("tree size is negative");
  }
  if (note.root_hash.size() != kHashSize) {
    return absl::InvalidArgumentError("root hash is not 32 bytes");
  }
  return absl::StrCat(kCheckpointHeader, "\n", note.log_id, "\n",
                      note.tree_size, "\n", Base64Encode(note.root_hash), "\n",
                      FormatTimestamp(note.time), "\n");
}

absl::StatusOr<CheckpointNote> ParseCheckpointNote(absl::string_view text) {
  if (text.empty() || text.back() != '\n') {
    return absl::InvalidArgumentError("note does not end with a newline");
  }
  std::vector<absl::string_view> lines =
      absl::StrSplit(text.substr(0, text.size() - 1), '\n');
  if (lines.size() != 5) {
    return absl::InvalidArgumentError(
        absl::StrCat("note has ", lines.size(), " lines, not 5"));
  }
  if (lines[0] != kCheckpointHeader) {
    return absl::InvalidArgumentError(
        absl::StrCat("note does not start with ", kCheckpointHeader));
  }
  CheckpointNote note;
  if (!ValidateLogId(lines[1]).ok()) {
    return absl::InvalidArgumentError("note has a malformed log id");
  }
  note.log_id = std::string(lines[1]);
  if (!ParseSize(lines[2], note.tree_size)) {
    return absl::InvalidArgumentError("note has a malformed tree size");
  }
  absl::StatusOr<std::string> root = Base64Decode(lines[3]);
  if (!root.ok() || root->size() != kHashSize ||
      Base64Encode(*root) != lines[3]) {
    return absl::InvalidArgumentError("note has a malformed root hash");
  }
  note.root_hash = *std::move(root);
  absl::StatusOr<absl::Time> time = ParseTimestamp(lines[4]);
  if (!time.ok()) {
    return absl::InvalidArgumentError("note has a malformed time");
  }
  note.time = *time;
  return note;
}

absl::StatusOr<std::string> SignCheckpointNote(const crypto::Signer& signer,
                                               absl::string_view note) {
  const crypto::SignatureScheme& scheme = signer.scheme();
  if (scheme.key != crypto::KeyAlgorithm::kEcP256 ||
      scheme.hash != crypto::HashAlgorithm::kSha256) {
    return absl::FailedPreconditionError(
        "the audit key must be ECDSA P-256 with SHA-256");
  }
  return signer.SignDigest(crypto::Sha256(note));
}

absl::Status VerifyCheckpointSignature(const crypto::Verifier& verifier,
                                       absl::string_view note,
                                       absl::string_view signature) {
  absl::Status s = verifier.VerifyDigest(crypto::Sha256(note), signature);
  if (!s.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("bad checkpoint signature: ", s.message()));
  }
  return absl::OkStatus();
}

}  // namespace inkan::audit
