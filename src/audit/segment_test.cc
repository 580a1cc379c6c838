#include "audit/segment.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "audit/audit_log.h"
#include "common/clock.h"
#include "common/encoding.h"
#include "common/status_macros.h"
#include "crypto/software_signer.h"
#include "storage/store.h"

namespace inkan::audit {
namespace {

using ::testing::HasSubstr;

constexpr crypto::SignatureScheme kP256{crypto::KeyAlgorithm::kEcP256,
                                        crypto::HashAlgorithm::kSha256};
constexpr char kLogId[] = "inkan/segment-test";

std::unique_ptr<crypto::Signer> NewKey() {
  auto pkcs8 = crypto::GenerateSoftwareKey(crypto::KeyAlgorithm::kEcP256);
  return *crypto::NewSoftwareSigner(*pkcs8, kP256);
}

class SegmentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    key_ = NewKey();
    store_ = storage::NewMemoryStore();
    log_ = std::make_unique<AuditLog>(*key_, kLogId, clock_);
    // 30 entries in transactions of 1, 2 and 3 entries, so some sizes have
    // no checkpoint.
    int n = 0;
    for (int batch = 1; n < 30; batch = batch % 3 + 1) {
      ASSERT_TRUE(
          RunAudited(*store_, *log_, [&](storage::Transaction& tx) {
            for (int i = 0; i < batch && n < 30; ++i) {
              RETURN_IF_ERROR(log_->Append(
                  tx, {"test.event", {{"n", int64_t{++n}}, {"user", "erin"}}}));
            }
            return absl::OkStatus();
          }).ok());
      clock_.Advance(absl::Seconds(1));
    }
  }

  absl::StatusOr<std::string> Export(int64_t from, int64_t to) {
    absl::StatusOr<std::string> out;
    absl::Status st = store_->Transact(
        storage::TxMode::kReadOnly, [&](storage::Transaction& tx) {
          out = ExportSegment(tx, kLogId, key_->public_key_der(), from, to);
          return absl::OkStatus();
        });
    if (!st.ok()) return st;
    return out;
  }

  // Edits the parsed segment and serialises it again.
  template <typename F>
  std::string Edit(const std::string& text, F f) {
    boost::json::value v = boost::json::parse(text);
    f(v.as_object());
    return boost::json::serialize(v);
  }

  FakeClock clock_;
  std::unique_ptr<crypto::Signer> key_;
  std::unique_ptr<storage::Store> store_;
  std::unique_ptr<AuditLog> log_;
};

TEST_F(SegmentTest, VerifiesAloneAndExtendsToACheckpoint) {
  auto seg = Export(5, 11);
  ASSERT_TRUE(seg.ok()) << seg.status();
  auto info = VerifySegment(*seg, "");
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->first, 5);
  EXPECT_GE(info->last, 11);
  EXPECT_LE(info->last, 13);
  EXPECT_GE(info->checkpoints, 2);
  EXPECT_EQ(info->latest_size, 30);
  EXPECT_EQ(info->log_id, kLogId);
  EXPECT_TRUE(VerifySegment(*seg, key_->public_key_der()).ok());
}

TEST_F(SegmentTest, WholeLogAndTheEnd) {
  auto all = Export(1, 30);
  ASSERT_TRUE(all.ok()) << all.status();
  auto info = VerifySegment(*all, key_->public_key_der());
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->last, 30);
  EXPECT_EQ(all->find("\"latest\""), std::string::npos);
  EXPECT_TRUE(absl::IsOutOfRange(Export(1, 31).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(Export(0, 3).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(Export(9, 3).status()));
}

TEST_F(SegmentTest, ARemovedEntryFails) {
  std::string seg = *Export(5, 11);
  for (size_t i : {0, 3, 6}) {
    std::string bad = Edit(seg, [&](boost::json::object& o) {
      auto& e = o["entries"].as_array();
      e.erase(e.begin() + i);
    });
    auto info = VerifySegment(bad, "");
    EXPECT_TRUE(absl::IsDataLoss(info.status())) << i << info.status();
    // … also when its "last" is lowered to match.
    bad = Edit(bad, [](boost::json::object& o) {
      o["last"] = o["last"].as_int64() - 1;
    });
    EXPECT_TRUE(absl::IsDataLoss(VerifySegment(bad, "").status())) << i;
  }
}

TEST_F(SegmentTest, AChangedEntryFails) {
  std::string seg = *Export(5, 11);
  std::string bad = absl::StrReplaceAll(seg, {{"\\\"n\\\":7", "\\\"n\\\":8"}});
  ASSERT_NE(bad, seg);
  auto info = VerifySegment(bad, "");
  EXPECT_TRUE(absl::IsDataLoss(info.status())) << info.status();
  EXPECT_THAT(info.status().message(), HasSubstr("do not match the signed"));
  bad = absl::StrReplaceAll(seg, {{"erin", "mallory"}});
  EXPECT_TRUE(absl::IsDataLoss(VerifySegment(bad, "").status()));
}

TEST_F(SegmentTest, TamperedProofsAndCheckpointsFail) {
  std::string seg = *Export(5, 11);
  // The last checkpoint dropped: the segment is not covered.
  std::string bad = Edit(seg, [](boost::json::object& o) {
    o["checkpoints"].as_array().pop_back();
  });
  EXPECT_TRUE(absl::IsDataLoss(VerifySegment(bad, "").status()));
  // A changed prefix gives other roots.
  bad = Edit(seg, [](boost::json::object& o) {
    std::string p(o["prefix"].as_string());
    p[p.size() - 1] = p[p.size() - 1] == '0' ? '1' : '0';
    o["prefix"] = p;
  });
  EXPECT_TRUE(absl::IsDataLoss(VerifySegment(bad, "").status()));
  // A consistency proof that does not hold.
  bad = Edit(seg, [](boost::json::object& o) {
    auto& p = o["consistency"].as_array();
    std::string h(p[0].as_string());
    h[0] = h[0] == '0' ? '1' : '0';
    p[0] = h;
  });
  EXPECT_TRUE(absl::IsDataLoss(VerifySegment(bad, "").status()));
}

TEST_F(SegmentTest, AnotherKeyAndGarbage) {
  std::string seg = *Export(5, 11);
  auto other = NewKey();
  EXPECT_TRUE(absl::IsPermissionDenied(
      VerifySegment(seg, other->public_key_der()).status()));
  // The key swapped inside the segment: signatures no longer verify.
  std::string bad = Edit(seg, [&](boost::json::object& o) {
    o["audit_key"] = Base64Encode(other->public_key_der());
  });
  EXPECT_TRUE(absl::IsDataLoss(VerifySegment(bad, "").status()));
  EXPECT_TRUE(absl::IsInvalidArgument(VerifySegment("", "").status()));
  EXPECT_TRUE(absl::IsInvalidArgument(VerifySegment("{}", "").status()));
}

}  // namespace
}  // namespace inkan::audit
