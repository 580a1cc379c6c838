#include "audit/merkle.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "common/encoding.h"

namespace inkan::audit {
namespace {

using ::testing::ElementsAreArray;

std::string Hex(absl::string_view bytes) { return HexEncode(bytes); }

std::string Unhex(absl::string_view hex) { return *HexDecode(hex); }

std::vector<std::string> Unhex(const std::vector<std::string>& hexes) {
  std::vector<std::string> out;
  for (const std::string& h : hexes) out.push_back(Unhex(h));
  return out;
}

// The reference tree of certificate-transparency's merkle_tree_test.cc (also
// transparency-dev/merkle testonly): eight leaves and the root at each size.
std::vector<std::string> ReferenceLeafHashes() {
  std::vector<std::string> leaves = {
      "",
      "00",
      "10",
      "2021",
      "3031",
      "40414243",
      "5051525354555657",
      "606162636465666768696a6b6c6d6e6f",
  };
  std::vector<std::string> hashes;
  for (const std::string& hex : leaves) hashes.push_back(LeafHash(Unhex(hex)));
  return hashes;
}

const char* const kReferenceRoots[] = {
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
};

TEST(MerkleTest, RootsMatchTheCtReferenceTree) {
  std::vector<std::string> leaves = ReferenceLeafHashes();
  for (size_t n = 0; n <= leaves.size(); ++n) {
    EXPECT_EQ(Hex(RootFromLeafHashes(absl::MakeConstSpan(leaves).first(n))),
              kReferenceRoots[n])
        << "size " << n;
  }
  EXPECT_EQ(Hex(EmptyRoot()), kReferenceRoots[0]);
}

TEST(MerkleTest, DomainSeparation) {
  std::string a = LeafHash("a"), b = LeafHash("b");
  EXPECT_NE(LeafHash(a + b), NodeHash(a, b));
  EXPECT_EQ(Hex(LeafHash("")), kReferenceRoots[1]);
}

TEST(MerkleTest, CompactRangeMatchesRootAndRoundTrips) {
  std::vector<std::string> leaves = ReferenceLeafHashes();
  CompactRange range;
  EXPECT_EQ(range.Serialize(), "0");
  for (size_t n = 1; n <= leaves.size(); ++n) {
    range.Append(leaves[n - 1]);
    EXPECT_EQ(range.size(), static_cast<int64_t>(n));
    EXPECT_EQ(Hex(range.Root()), kReferenceRoots[n]);
    absl::StatusOr<CompactRange> parsed =
        CompactRange::Parse(range.Serialize());
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    EXPECT_EQ(*parsed, range);
  }
}

TEST(MerkleTest, CompactRangeParseIsStrict) {
  CompactRange range;
  range.Append(LeafHash("x"));
  std::string good = range.Serialize();
  ASSERT_TRUE(CompactRange::Parse(good).ok());
  std::string upper = good;
  upper[3] = 'A';
  for (std::string bad :
       {std::string(""), std::string("01"), std::string("-1"), std::string("1"),
        std::string("0:") + good.substr(2), std::string("3") + good.substr(1),
        good + ":", good.substr(0, 10), std::string("+1") + good.substr(1),
        std::string("x"), upper}) {
    EXPECT_FALSE(CompactRange::Parse(bad).ok()) << bad;
  }
}

// Vectors from certificate-transparency's merkle_tree_test.cc.
TEST(MerkleTest, InclusionProofsMatchTheCtReferenceVectors) {
  std::vector<std::string> leaves = ReferenceLeafHashes();
  struct Vector {
    int64_t index, size;
    std::vector<std::string> proof;
  };
  std::vector<Vector> vectors = {
      {0, 1, {}},
      {0,
       8,
       {"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"}},
      {5,
       8,
       {"bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
      {2,
       3,
       {"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"}},
      {1,
       5,
       {"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"}},
  };
  for (const Vector& v : vectors) {
    absl::StatusOr<std::vector<std::string>> proof =
        InclusionProof(leaves, v.index, v.size);
    ASSERT_TRUE(proof.ok()) << proof.status();
    EXPECT_THAT(*proof, ElementsAreArray(Unhex(v.proof)))
        << v.index << " in " << v.size;
    EXPECT_TRUE(VerifyInclusion(leaves[v.index], v.index, v.size, *proof,
                                Unhex(kReferenceRoots[v.size]))
                    .ok());
  }
}

TEST(MerkleTest, ConsistencyProofsMatchTheCtReferenceVectors) {
  std::vector<std::string> leaves = ReferenceLeafHashes();
  struct Vector {
    int64_t old_size, new_size;
    std::vector<std::string> proof;
  };
  std::vector<Vector> vectors = {
      {1, 1, {}},
      {1,
       8,
       {"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"}},
      {6,
       8,
       {"0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
      {2,
       5,
       {"5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"}},
  };
  for (const Vector& v : vectors) {
    absl::StatusOr<std::vector<std::string>> proof =
        ConsistencyProof(leaves, v.old_size, v.new_size);
    ASSERT_TRUE(proof.ok()) << proof.status();
    EXPECT_THAT(*proof, ElementsAreArray(Unhex(v.proof)))
        << v.old_size << " -> " << v.new_size;
    EXPECT_TRUE(VerifyConsistency(v.old_size, v.new_size,
                                  Unhex(kReferenceRoots[v.old_size]),
                                  Unhex(kReferenceRoots[v.new_size]), *proof)
                    .ok());
  }
}

// RFC 6962 §2.1.3's worked example: seven leaves d0..d6, named a..l there.
TEST(MerkleTest, Rfc6962SevenLeafExample) {
  std::vector<std::string> leaves;
  for (int i = 0; i < 7; ++i)
    leaves.push_back(LeafHash("d" + std::to_string(i)));
  std::string a = leaves[0], b = leaves[1], c = leaves[2], d = leaves[3];
  std::string e = leaves[4], f = leaves[5], j = leaves[6];
  std::string g = NodeHash(a, b), h = NodeHash(c, d), i = NodeHash(e, f);
  std::string k = NodeHash(g, h), l = NodeHash(i, j);
  EXPECT_EQ(RootFromLeafHashes(leaves), NodeHash(k, l));
  EXPECT_THAT(*InclusionProof(leaves, 0, 7), ElementsAreArray({b, h, l}));
  EXPECT_THAT(*InclusionProof(leaves, 3, 7), ElementsAreArray({c, g, l}));
  EXPECT_THAT(*InclusionProof(leaves, 4, 7), ElementsAreArray({f, j, k}));
  EXPECT_THAT(*InclusionProof(leaves, 6, 7), ElementsAreArray({i, k}));
  EXPECT_THAT(*ConsistencyProof(leaves, 3, 7), ElementsAreArray({c, d, g, l}));
  EXPECT_THAT(*ConsistencyProof(leaves, 4, 7), ElementsAreArray({l}));
  EXPECT_THAT(*ConsistencyProof(leaves, 6, 7), ElementsAreArray({i, j, k}));
}

std::vector<std::string> SyntheticLeaves(int n) {
  std::vector<std::string> leaves;
  for (int i = 0; i < n; ++i)
    leaves.push_back(LeafHash("leaf " + std::to_string(i)));
  return leaves;
}

std::string FlipBit(std::string s, size_t bit) {
  s[bit / 8] = static_cast<char>(s[bit / 8] ^ (1 << (bit % 8)));
  return s;
}

constexpr int kMaxSize = 64;

TEST(MerkleTest, EveryInclusionProofVerifiesAndNothingElseDoes) {
  std::vector<std::string> all = SyntheticLeaves(2 * kMaxSize + 1);
  std::vector<std::string> roots;
  for (int64_t n = 0; n <= 2 * kMaxSize; ++n) {
    roots.push_back(RootFromLeafHashes(absl::MakeConstSpan(all).first(n)));
  }
  for (int64_t n = 1; n <= kMaxSize; ++n) {
    const std::string& root = roots[n];
    for (int64_t m = 0; m < n; ++m) {
      SCOPED_TRACE(testing::Message() << "leaf " << m << " of " << n);
      std::vector<std::string> proof = *InclusionProof(all, m, n);
      ASSERT_TRUE(VerifyInclusion(all[m], m, n, proof, root).ok());
      EXPECT_LE(proof.size(), 7u);

      // A flipped bit anywhere: in the leaf, the root or any proof node.
      for (size_t bit : {size_t{0}, size_t{77}, size_t{255}}) {
        EXPECT_FALSE(
            VerifyInclusion(FlipBit(all[m], bit), m, n, proof, root).ok());
        EXPECT_FALSE(
            VerifyInclusion(all[m], m, n, proof, FlipBit(root, bit)).ok());
        for (size_t p = 0; p < proof.size(); ++p) {
          std::vector<std::string> bad = proof;
          bad[p] = FlipBit(bad[p], bit);
          EXPECT_FALSE(VerifyInclusion(all[m], m, n, bad, root).ok());
        }
      }
      // Wrong index, wrong size, wrong leaf.
      for (int64_t other = -1; other <= n; ++other) {
        if (other != m) {
          EXPECT_FALSE(VerifyInclusion(all[m], other, n, proof, root).ok())
              << "index " << other;
        }
      }
      // Another size with that size's root. (With this tree's root, a size
      // whose path has the same shape would pass: a root does not name its
      // size, which is why checkpoints sign both.)
      for (int64_t size = 0; size <= 2 * kMaxSize; ++size) {
        if (size != n) {
          EXPECT_FALSE(
              VerifyInclusion(all[m], m, size, proof, roots[size]).ok())
              << "size " << size;
        }
      }
      // Another tree height, same root.
      EXPECT_FALSE(VerifyInclusion(all[m], m, 2 * n, proof, root).ok());
      EXPECT_FALSE(VerifyInclusion(all[m], m, n / 2, proof, root).ok());
      if (n > 1) {
        EXPECT_FALSE(VerifyInclusion(all[(m + 1) % n], m, n, proof, root).ok());
      }
      // Too long (an extra node, or the root appended), too short.
      std::vector<std::string> longer = proof;
      longer.push_back(root);
      EXPECT_FALSE(VerifyInclusion(all[m], m, n, longer, root).ok());
      longer = proof;
      longer.insert(longer.begin(), all[m]);
      EXPECT_FALSE(VerifyInclusion(all[m], m, n, longer, root).ok());
      if (!proof.empty()) {
        std::vector<std::string> shorter(proof.begin(), proof.end() - 1);
        EXPECT_FALSE(VerifyInclusion(all[m], m, n, shorter, root).ok());
      }
      // A truncated node.
      if (!proof.empty()) {
        std::vector<std::string> bad = proof;
        bad[0].pop_back();
        EXPECT_FALSE(VerifyInclusion(all[m], m, n, bad, root).ok());
      }
    }
  }
}

TEST(MerkleTest, EveryConsistencyProofVerifiesAndNothingElseDoes) {
  std::vector<std::string> all = SyntheticLeaves(kMaxSize);
  std::vector<std::string> roots;
  for (int64_t n = 0; n <= kMaxSize; ++n) {
    roots.push_back(RootFromLeafHashes(absl::MakeConstSpan(all).first(n)));
  }
  for (int64_t n = 1; n <= kMaxSize; ++n) {
    for (int64_t m = 0; m <= n; ++m) {
      SCOPED_TRACE(testing::Message() << m << " -> " << n);
      std::vector<std::string> proof = *ConsistencyProof(all, m, n);
      ASSERT_TRUE(VerifyConsistency(m, n, roots[m], roots[n], proof).ok());
      EXPECT_LE(proof.size(), 8u);
      for (size_t bit : {size_t{0}, size_t{100}, size_t{255}}) {
        EXPECT_FALSE(
            VerifyConsistency(m, n, FlipBit(roots[m], bit), roots[n], proof)
                .ok());
        if (m > 0) {  // every tree extends the empty one
          EXPECT_FALSE(
              VerifyConsistency(m, n, roots[m], FlipBit(roots[n], bit), proof)
                  .ok());
        }
        for (size_t p = 0; p < proof.size(); ++p) {
          std::vector<std::string> bad = proof;
          bad[p] = FlipBit(bad[p], bit);
          EXPECT_FALSE(VerifyConsistency(m, n, roots[m], roots[n], bad).ok());
        }
      }
      // Nearby sizes, with those sizes' roots, fail unless this happens to be
      // their proof too (e.g. the empty proof of 0 -> k and of k -> k).
      for (int64_t om : {m - 1, m, m + 1, m / 2, 2 * m, int64_t{0}}) {
        for (int64_t on : {n - 1, n, n + 1, n / 2, 2 * n}) {
          if ((om == m && on == n) || on < 0 || on > kMaxSize ||
              om > kMaxSize) {
            continue;
          }
          const std::string& old_root = om >= 0 ? roots[om] : roots[0];
          if (om >= 0 && om <= on && *ConsistencyProof(all, om, on) == proof) {
            continue;
          }
          EXPECT_FALSE(
              VerifyConsistency(om, on, old_root, roots[on], proof).ok())
              << om << " -> " << on;
        }
      }
      if (m > 0 && m < n) {
        // Another tree height, same roots.
        EXPECT_FALSE(
            VerifyConsistency(m, 2 * n, roots[m], roots[n], proof).ok());
        EXPECT_FALSE(
            VerifyConsistency(m / 2, n, roots[m], roots[n], proof).ok());
      }
      // Too long, too short.
      std::vector<std::string> longer = proof;
      longer.push_back(roots[n]);
      EXPECT_FALSE(VerifyConsistency(m, n, roots[m], roots[n], longer).ok());
      if (!proof.empty()) {
        std::vector<std::string> shorter(proof.begin(), proof.end() - 1);
        EXPECT_FALSE(VerifyConsistency(m, n, roots[m], roots[n], shorter).ok());
        shorter.assign(proof.begin() + 1, proof.end());
        EXPECT_FALSE(VerifyConsistency(m, n, roots[m], roots[n], shorter).ok());
      }
      // Swapped sizes or roots.
      if (m != n) {
        EXPECT_FALSE(VerifyConsistency(n, m, roots[n], roots[m], proof).ok());
        EXPECT_FALSE(VerifyConsistency(m, n, roots[n], roots[m], proof).ok());
      }
    }
  }
}

TEST(MerkleTest, RangesMatchInMemoryProofs) {
  std::vector<std::string> all = SyntheticLeaves(20);
  for (int64_t n = 1; n <= 20; ++n) {
    for (int64_t m = 0; m < n; ++m) {
      std::vector<LeafRange> ranges = InclusionProofRanges(m, n);
      std::vector<std::string> proof = *InclusionProof(all, m, n);
      ASSERT_EQ(ranges.size(), proof.size());
      for (size_t i = 0; i < ranges.size(); ++i) {
        EXPECT_EQ(RootFromLeafHashes(absl::MakeConstSpan(all).subspan(
                      ranges[i].first, ranges[i].second - ranges[i].first)),
                  proof[i]);
      }
    }
  }
}

TEST(MerkleTest, ProofGenerationRejectsBadArguments) {
  std::vector<std::string> all = SyntheticLeaves(4);
  EXPECT_FALSE(InclusionProof(all, -1, 4).ok());
  EXPECT_FALSE(InclusionProof(all, 4, 4).ok());
  EXPECT_FALSE(InclusionProof(all, 0, 5).ok());
  EXPECT_FALSE(InclusionProof(all, 0, 0).ok());
  EXPECT_FALSE(ConsistencyProof(all, -1, 4).ok());
  EXPECT_FALSE(ConsistencyProof(all, 3, 2).ok());
  EXPECT_FALSE(ConsistencyProof(all, 2, 5).ok());
  EXPECT_TRUE(ConsistencyProof(all, 0, 4)->empty());
  EXPECT_TRUE(ConsistencyProof(all, 4, 4)->empty());
  EXPECT_TRUE(VerifyConsistency(0, 0, EmptyRoot(), EmptyRoot(), {}).ok());
  EXPECT_FALSE(VerifyInclusion(all[0], 0, 0, {}, EmptyRoot()).ok());
}

}  // namespace
}  // namespace inkan::audit
