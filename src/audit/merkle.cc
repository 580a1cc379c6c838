#include "audit/merkle.h"

#include <bit>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/algorithm/container.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "crypto/digest.h"

namespace inkan::audit {
namespace {

// The largest power of two strictly less than n (n >= 2): RFC 6962's split.
int64_t SplitPoint(int64_t n) {
  return int64_t{1} << (std::bit_width(static_cast<uint64_t>(n - 1)) - 1);
}

// RFC 6962 §2.1.1 PATH(m, D[begin:end]), as ranges.
void PathRanges(int64_t m, int64_t begin, int64_t end,
                std::vector<LeafRange>& out) {
  int64_t n = end - begin;
  if (n <= 1) return;
  int64_t k = SplitPoint(n);
  if (m < k) {
    PathRanges(m, begin, begin + k, out);
    out.emplace_back(begin + k, end);
  } else {
    PathRanges(m - k, begin + k, end, out);
    out.emplace_back(begin, begin + k);
  }
}

// RFC 6962 §2.1.2 SUBPROOF(m, D[begin:end], b), as ranges.
void SubproofRanges(int64_t m, int64_t begin, int64_t end, bool b,
                    std::vector<LeafRange>& out) {
  int64_t n = end - begin;
  if (m == n) {
    if (!b) out.emplace_back(begin, end);
    return;
  }
  int64_t k = SplitPoint(n);
  if (m <= k) {
    SubproofRanges(m, begin, begin + k, b, out);
    out.emplace_back(begin + k, end);
  } else {
    SubproofRanges(m - k, begin + k, end, false, out);
    out.emplace_back(begin, begin + k);
  }
}

std::vector<std::string> HashRanges(absl::Span<const std::string> leaf_hashes,
                                    const std::vector<LeafRange>& ranges) {
  std::vector<std::string> proof;
  proof.reserve(ranges.size());
  for (const auto& [begin, end] : ranges) {
    proof.push_back(RootFromLeafHashes(leaf_hashes.subspan(
        static_cast<size_t>(begin), static_cast<size_t>(end - begin))));
  }
  return proof;
}

absl::Status CheckHashSizes(absl::Span<const std::string> hashes,
                            absl::string_view what) {
  for (const std::string& h : hashes) {
    if (h.size() != kHashSize) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, " has a hash of ", h.size(), " bytes"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

std::string LeafHash(absl::string_view entry) {
  std::string buf;
  buf.reserve(entry.size() + 1);
  buf.push_back('\x00');
  buf.append(entry.data(), entry.size());
  return crypto::Sha256(buf);
}

std::string NodeHash(absl::string_view left, absl::string_view right) {
  std::string buf;
  buf.reserve(1 + left.size() + right.size());
  buf.push_back('\x01');
  buf.append(left.data(), left.size());
  buf.append(right.data(), right.size());
  return crypto::Sha256(buf);
}

std::string EmptyRoot() { return crypto::Sha256(""); }

std::string RootFromLeafHashes(absl::Span<const std::string> leaf_hashes) {
  CompactRange range;
  for (const std::string& h : leaf_hashes) range.Append(h);
  return range.Root();
}

void CompactRange::Append(std::string leaf_hash) {
  // Each set low bit of size_ is a perfect subtree the new leaf completes.
  for (uint64_t s = static_cast<uint64_t>(size_); s & 1; s >>= 1) {
    leaf_hash = NodeHash(hashes_.back(), leaf_hash);
    hashes_.pop_back();
  }
  hashes_.push_back(std::move(leaf_hash));
  ++size_;
}

std::string CompactRange::Root() const {
  if (hashes_.empty()) return EmptyRoot();
  std::string root = hashes_.back();
  for (size_t i = hashes_.size() - 1; i > 0; --i) {
    root = NodeHash(hashes_[i - 1], root);
  }
  return root;
}

std::string CompactRange::Serialize() const {
  std::string out = absl::StrCat(size_);
  for (const std::string& h : hashes_) {
    absl::StrAppend(&out, ":", absl::BytesToHexString(h));
  }
  return out;
}

absl::StatusOr<CompactRange> CompactRange::Parse(absl::string_view text) {
  std::vector<absl::string_view> parts = absl::StrSplit(text, ':');
  absl::string_view size_text = parts[0];
  int64_t size = 0;
  if (size_text.empty() || size_text.size() > 18 ||
      (size_text.size() > 1 && size_text[0] == '0') ||
      !absl::c_all_of(size_text, absl::ascii_isdigit) ||
      !absl::SimpleAtoi(size_text, &size)) {
    return absl::InvalidArgumentError("compact range: bad size");
  }
  if (parts.size() - 1 !=
      static_cast<size_t>(std::popcount(static_cast<uint64_t>(size)))) {
    return absl::InvalidArgumentError("compact range: wrong number of hashes");
  }
  CompactRange range;
  range.size_ = size;
  for (size_t i = 1; i < parts.size(); ++i) {
    absl::string_view hex = parts[i];
    if (hex.size() != 2 * kHashSize || !absl::c_all_of(hex, [](char c) {
          return absl::ascii_isdigit(c) || (c >= 'a' && c <= 'f');
        })) {
      return absl::InvalidArgumentError("compact range: bad hash");
    }
    range.hashes_.push_back(absl::HexStringToBytes(hex));
  }
  return range;
}

std::vector<LeafRange> InclusionProofRanges(int64_t index, int64_t size) {
  std::vector<LeafRange> out;
  PathRanges(index, 0, size, out);
  return out;
}

std::vector<LeafRange> ConsistencyProofRanges(int64_t old_size,
                                              int64_t new_size) {
  std::vector<LeafRange> out;
  if (old_size == 0 || old_size == new_size) return out;
  SubproofRanges(old_size, 0, new_size, true, out);
  return out;
}

absl::StatusOr<std::vector<std::string>> InclusionProof(
    absl::Span<const std::string> leaf_hashes, int64_t index, int64_t size) {
  if (index < 0 || index >= size ||
      size > static_cast<int64_t>(leaf_hashes.size())) {
    return absl::InvalidArgumentError(
        absl::StrCat("no leaf ", index, " in a tree of size ", size, " (",
                     leaf_hashes.size(), " leaves known)"));
  }
  return HashRanges(leaf_hashes, InclusionProofRanges(index, size));
}

absl::StatusOr<std::vector<std::string>> ConsistencyProof(
    absl::Span<const std::string> leaf_hashes, int64_t old_size,
    int64_t new_size) {
  if (old_size < 0 || old_size > new_size ||
      new_size > static_cast<int64_t>(leaf_hashes.size())) {
    return absl::InvalidArgumentError(
        absl::StrCat("no consistency proof from size ", old_size, " to ",
                     new_size, " (", leaf_hashes.size(), " leaves known)"));
  }
  return HashRanges(leaf_hashes, ConsistencyProofRanges(old_size, new_size));
}

// RFC 9162 §2.1.3.2, with its three guards: index < size, the proof must not
// outrun the tree (sn reaching 0 early), and must be used up (sn == 0).
absl::Status VerifyInclusion(absl::string_view leaf_hash, int64_t index,
                             int64_t size, absl::Span<const std::string> proof,
                             absl::string_view root) {
  if (index < 0 || size <= 0 || index >= size) {
    return absl::InvalidArgumentError(
        absl::StrCat("leaf index ", index, " is not in a tree of size ", size));
  }
  if (leaf_hash.size() != kHashSize || root.size() != kHashSize) {
    return absl::InvalidArgumentError("leaf hash or root has the wrong size");
  }
  if (absl::Status s = CheckHashSizes(proof, "inclusion proof"); !s.ok()) {
    return s;
  }
  uint64_t fn = static_cast<uint64_t>(index);
  uint64_t sn = static_cast<uint64_t>(size) - 1;
  std::string r(leaf_hash);
  for (const std::string& p : proof) {
    if (sn == 0) {
      return absl::InvalidArgumentError("inclusion proof is too long");
    }
    if ((fn & 1) || fn == sn) {
      r = NodeHash(p, r);
      while (!(fn & 1) && fn != 0) {
        fn >>= 1;
        sn >>= 1;
      }
    } else {
      r = NodeHash(r, p);
    }
    fn >>= 1;
    sn >>= 1;
  }
  if (sn != 0)
    return absl::InvalidArgumentError("inclusion proof is too short");
  if (r != root) {
    return absl::InvalidArgumentError(
        "inclusion proof does not match the root");
  }
  return absl::OkStatus();
}

// RFC 9162 §2.1.4.2, for 0 < old_size < new_size; the trivial cases first.
absl::Status VerifyConsistency(int64_t old_size, int64_t new_size,
                               absl::string_view old_root,
                               absl::string_view new_root,
                               absl::Span<const std::string> proof) {
  if (old_size < 0 || old_size > new_size) {
    return absl::InvalidArgumentError(absl::StrCat(
        "no consistency from size ", old_size, " to size ", new_size));
  }
  if (old_root.size() != kHashSize || new_root.size() != kHashSize) {
    return absl::InvalidArgumentError("root has the wrong size");
  }
  if (absl::Status s = CheckHashSizes(proof, "consistency proof"); !s.ok()) {
    return s;
  }
  if (old_size == new_size || old_size == 0) {
    if (!proof.empty()) {
      return absl::InvalidArgumentError("consistency proof should be empty");
    }
    if (old_size == 0 && old_root != EmptyRoot()) {
      return absl::InvalidArgumentError("old root is not the empty tree's");
    }
    if (old_size == new_size && old_root != new_root) {
      return absl::InvalidArgumentError("same size but different roots");
    }
    return absl::OkStatus();
  }
  if (proof.empty()) {
    return absl::InvalidArgumentError("consistency proof is empty");
  }
  uint64_t fn = static_cast<uint64_t>(old_size) - 1;
  uint64_t sn = static_cast<uint64_t>(new_size) - 1;
  size_t next = 0;
  std::string fr, sr;
  if (std::has_single_bit(static_cast<uint64_t>(old_size))) {
    // The old tree is a perfect subtree: its root starts the path.
    fr = sr = std::string(old_root);
  } else {
    fr = sr = proof[next++];
  }
  while (fn & 1) {
    fn >>= 1;
    sn >>= 1;
  }
  for (; next < proof.size(); ++next) {
    const std::string& c = proof[next];
    if (sn == 0) {
      return absl::InvalidArgumentError("consistency proof is too long");
    }
    if ((fn & 1) || fn == sn) {
      fr = NodeHash(c, fr);
      sr = NodeHash(c, sr);
      while (!(fn & 1) && fn != 0) {
        fn >>= 1;
        sn >>= 1;
      }
    } else {
      sr = NodeHash(sr, c);
    }
    fn >>= 1;
    sn >>= 1;
  }
  if (sn != 0) {
    return absl::InvalidArgumentError("consistency proof is too short");
  }
  if (fr != old_root) {
    return absl::InvalidArgumentError(
        "consistency proof does not match the old root");
  }
  if (sr != new_root) {
    return absl::InvalidArgumentError(
        "consistency proof does not match the new root");
  }
  return absl::OkStatus();
}

}  // namespace inkan::audit
