// The printed/typed text form of a Shamir share, for custodians who keep their
// share on paper, and the commitment that detects an altered share when it is
// entered (issue 3: "a share that was altered is detected when it is entered,
// not only when the key fails").
//
// Text form (one line; the groups keep it typeable):
//
//   inkan-share1-<set_id>-<k>of<n>-<index>-<payload>-<check>
//   e.g. inkan-share1-3f9c0a1b2c3d4e5f-3of5-2-MFRG-GZDF-...-QQ-K7ZB2XMA
//
// <payload> is the share value in RFC 4648 §6 base32 (A-Z 2-7), without
// padding, in groups of 4 separated by '-'. <check> is the first 5 bytes of
// SHA-256 over the canonical text before "-<check>" (whitespace removed,
// letters in lower case), in base32 (8 characters): a mistyped, dropped or
// swapped character is reported when the share is entered, naming the share.
// Decoding ignores case and whitespace (spaces, tabs, newlines) anywhere.
//
// The checksum finds mistakes, not malice: anyone can recompute it. Against a
// share altered on purpose, the ceremony records ShareCommitment() of every
// share at split time and checks entered shares with VerifyShareCommitment().
//
// The text holds the share itself and so is returned and taken as SecretBytes.
// Error messages name the share (set and index) but never echo its payload.
//
// Thread-safety: the functions are thread-safe.
#ifndef INKAN_CEREMONY_SHARE_CODEC_H_
#define INKAN_CEREMONY_SHARE_CODEC_H_

#include <cstddef>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "ceremony/shamir.h"
#include "common/secret_bytes.h"

namespace inkan::ceremony {

inline constexpr absl::string_view kShareTextPrefix = "inkan-share1-";
inline constexpr size_t kShareCommitmentSize = 32;

// The text form of `share`. InvalidArgument if it fails ValidateShare().
absl::StatusOr<SecretBytes> EncodeShare(const Share& share);

// Parses the text form. InvalidArgument, with a message naming the share (as
// far as it can be read), if the text is not a share, has an unsupported
// version, fails its checksum, or is malformed.
absl::StatusOr<Share> DecodeShare(const SecretBytes& text);

// SHA-256 over a domain-separated encoding of (set_id, k, n, index, value):
// 32 raw bytes. Safe to store beside the ceremony's records as long as share
// values have enough entropy not to be guessed (true of a 16+ byte KEK's
// shares; a commitment to a 1-byte share can be inverted by trying all 256).
std::string ShareCommitment(const Share& share);

// OK if `share` is the one `commitment` was made for. InvalidArgument, naming
// the share, if it is not (it was altered or belongs to another split), or if
// `commitment` is not 32 bytes. The comparison is constant-time.
absl::Status VerifyShareCommitment(const Share& share,
                                   absl::string_view commitment);

}  // namespace inkan::ceremony

#endif  // INKAN_CEREMONY_SHARE_CODEC_H_
