// RFC 6962 Merkle trees: the hashing, the compact range that lets a log
// append and compute its root in O(log n) space, and inclusion and
// consistency proofs (RFC 6962 §2.1; generation and verification as in
// RFC 9162 §2.1.3–2.1.4). Hashes are 32 raw bytes (SHA-256).
//
// Sizes and indices are int64_t like the store's seq; negative values are
// rejected. Leaf indices are 0-based (the audit log's seq K is index K-1).
//
// Thread-safety: free functions are thread-safe; CompactRange is a value type
// (const methods may be called concurrently).
#ifndef INKAN_AUDIT_MERKLE_H_
#define INKAN_AUDIT_MERKLE_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace inkan::audit {

inline constexpr size_t kHashSize = 32;

// SHA-256(0x00 || entry).
std::string LeafHash(absl::string_view entry);
// SHA-256(0x01 || left || right).
std::string NodeHash(absl::string_view left, absl::string_view right);
// SHA-256 of the empty string: the root of the empty tree.
std::string EmptyRoot();
// MTH(D[n]) over the given leaf hashes.
std::string RootFromLeafHashes(absl::Span<const std::string> leaf_hashes);

// The roots of the perfect subtrees that make up a tree of size() leaves,
// left to right (one per set bit of size()): enough to append and to compute
// the root. Copyable and movable.
class CompactRange {
 public:
  CompactRange() = default;  // the empty tree

  // Appends one leaf hash (kHashSize bytes; not checked).
  void Append(std::string leaf_hash);
  int64_t size() const { return size_; }
  // MTH of the leaves appended so far; EmptyRoot() if none.
  std::string Root() const;

  // "<size>" then ":<64 lowercase hex>" per subtree root, e.g. "3:ab..:cd..".
  std::string Serialize() const;
  // Strict inverse of Serialize(); InvalidArgument on anything else.
  static absl::StatusOr<CompactRange> Parse(absl::string_view text);

  friend bool operator==(const CompactRange&, const CompactRange&) = default;

 private:
  int64_t size_ = 0;
  std::vector<std::string> hashes_;
};

// PATH(index, D[size]) over leaf_hashes[0, size), leaf to root.
// InvalidArgument unless 0 <= index < size <= leaf_hashes.size().
absl::StatusOr<std::vector<std::string>> InclusionProof(
    absl::Span<const std::string> leaf_hashes, int64_t index, int64_t size);
// OK if `proof` shows that leaf `index` of the tree of `size` leaves with
// root `root` has hash `leaf_hash`; InvalidArgument with a reason otherwise.
absl::Status VerifyInclusion(absl::string_view leaf_hash, int64_t index,
                             int64_t size, absl::Span<const std::string> proof,
                             absl::string_view root);

// PROOF(old_size, D[new_size]); empty when old_size is 0 or equals new_size.
// InvalidArgument unless 0 <= old_size <= new_size <= leaf_hashes.size().
absl::StatusOr<std::vector<std::string>> ConsistencyProof(
    absl::Span<const std::string> leaf_hashes, int64_t old_size,
    int64_t new_size);
// OK if `proof` shows the tree (new_size, new_root) extends (old_size,
// old_root); InvalidArgument with a reason otherwise.
absl::Status VerifyConsistency(int64_t old_size, int64_t new_size,
                               absl::string_view old_root,
                               absl::string_view new_root,
                               absl::Span<const std::string> proof);

// The leaf ranges [begin, end) whose subtree hashes make up the proofs above,
// in proof order. They let a caller stream leaves from storage and build a
// proof in O(log n) memory (feed each range's leaves to a CompactRange).
// Arguments must already be valid (see above).
using LeafRange = std::pair<int64_t, int64_t>;
std::vector<LeafRange> InclusionProofRanges(int64_t index, int64_t size);
std::vector<LeafRange> ConsistencyProofRanges(int64_t old_size,
                                              int64_t new_size);

}  // namespace inkan::audit

#endif  // INKAN_AUDIT_MERKLE_H_
