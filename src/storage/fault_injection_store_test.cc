#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/status_macros.h"
#include "storage/store.h"
#include "storage/store_contract_test.h"
#include "storage/test_util.h"

namespace inkan::storage {
namespace {

using ::testing::Eq;
using ::testing::HasSubstr;
using ::testing::Optional;

// With no fault armed, the wrapper must be an invisible Store.
INSTANTIATE_TEST_SUITE_P(FaultInjectionOverMemory, StoreContractTest,
                         testing::Values(StoreContractParam{
                             "FaultInjectionOverMemory",
                             [] {
                               return absl::StatusOr<std::unique_ptr<Store>>(
                                   std::make_unique<OwningFaultInjectionStore>(
                                       NewMemoryStore()));
                             }}),
                         StoreContractParamName);

// The fault tests run over each real backend.
class FaultInjectionStoreTest
    : public testing::TestWithParam<StoreContractParam> {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<Store>> base = GetParam().make_store();
    ASSERT_TRUE(base.ok()) << base.status();
    store_ = std::make_unique<OwningFaultInjectionStore>(*std::move(base));
  }

  // A transaction of four writes (user, credential, meta, audit entry).
  absl::Status FourWrites(int64_t seq) {
    return store_->Transact(
        TxMode::kReadWrite, [seq](Transaction& tx) -> absl::Status {
          std::string n = std::to_string(seq);
          ASSIGN_OR_RETURN(int64_t id, tx.InsertUser({.name = "user" + n}));
          CredentialRecord cred;
          cred.id = "cred" + n;
          cred.user_id = id;
          RETURN_IF_ERROR(tx.InsertCredential(cred));
          RETURN_IF_ERROR(tx.PutMeta("last", n));
          return tx.AppendAuditEntry({.seq = seq, .entry = n, .leaf_hash = n});
        });
  }

  // Checks that exactly the transactions up to `seq` are visible.
  void ExpectCommittedThrough(int64_t seq) {
    ASSERT_THAT(
        store_->Transact(
            TxMode::kReadOnly,
            [seq](Transaction& tx) -> absl::Status {
              EXPECT_THAT(tx.AuditEntryCount(), IsOkAndHolds(Eq(seq)));
              EXPECT_THAT(tx.ListUsers(), IsOkAndHolds(testing::SizeIs(seq)));
              EXPECT_THAT(tx.GetCredential("cred" + std::to_string(seq + 1)),
                          StatusIs(absl::StatusCode::kNotFound));
              if (seq > 0) {
                EXPECT_THAT(tx.GetMeta("last"),
                            IsOkAndHolds(Optional(std::to_string(seq))));
              } else {
                EXPECT_THAT(tx.GetMeta("last"), IsOkAndHolds(Eq(std::nullopt)));
              }
              return absl::OkStatus();
            }),
        IsOk());
  }

  std::unique_ptr<FaultInjectionStore> store_;
};

INSTANTIATE_TEST_SUITE_P(
    Backends, FaultInjectionStoreTest,
    testing::Values(
        StoreContractParam{"Memory",
                           [] {
                             return absl::StatusOr<std::unique_ptr<Store>>(
                                 NewMemoryStore());
                           }},
        StoreContractParam{"Sqlite", &ScratchSqliteStore::New}),
    StoreContractParamName);

TEST_P(FaultInjectionStoreTest, CountsWritesAcrossTransactionsButNotReads) {
  EXPECT_EQ(store_->writes(), 0);
  ASSERT_THAT(FourWrites(1), IsOk());
  EXPECT_EQ(store_->writes(), 4);
  ExpectCommittedThrough(1);
  EXPECT_EQ(store_->writes(), 4);
  ASSERT_THAT(FourWrites(2), IsOk());
  EXPECT_EQ(store_->writes(), 8);
}

TEST_P(FaultInjectionStoreTest, FaultRollsBackTheWholeTransaction) {
  ASSERT_THAT(FourWrites(1), IsOk());
  store_->FailAtWrite(7);  // the third write of the next transaction
  EXPECT_THAT(FourWrites(2), StatusIs(absl::StatusCode::kInternal,
                                      HasSubstr("injected fault")));
  ExpectCommittedThrough(1);
}

TEST_P(FaultInjectionStoreTest, SwallowedFaultStillRollsBack) {
  store_->FailAtWrite(2);
  absl::Status status =
      store_->Transact(TxMode::kReadWrite, [](Transaction& tx) -> absl::Status {
        RETURN_IF_ERROR(tx.PutMeta("a", "1"));
        EXPECT_THAT(tx.PutMeta("b", "2"),
                    StatusIs(absl::StatusCode::kInternal));
        return absl::OkStatus();  // pretends nothing happened
      });
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kInternal,
                               HasSubstr("injected fault")));
  store_->Reset();
  ASSERT_THAT(store_->Transact(TxMode::kReadOnly,
                               [](Transaction& tx) -> absl::Status {
                                 EXPECT_THAT(tx.GetMeta("a"),
                                             IsOkAndHolds(Eq(std::nullopt)));
                                 return absl::OkStatus();
                               }),
              IsOk());
}

TEST_P(FaultInjectionStoreTest, LaterWritesFailUntilResetButReadsPass) {
  ASSERT_THAT(FourWrites(1), IsOk());
  store_->FailAtWrite(1);  // already passed: every write fails from now on
  EXPECT_THAT(FourWrites(2), StatusIs(absl::StatusCode::kInternal));
  EXPECT_THAT(FourWrites(2), StatusIs(absl::StatusCode::kInternal));
  ExpectCommittedThrough(1);

  store_->Reset();
  EXPECT_EQ(store_->writes(), 0);
  ASSERT_THAT(FourWrites(2), IsOk());
  ExpectCommittedThrough(2);
}

TEST_P(FaultInjectionStoreTest, CrashAtAnyWriteLeavesAllOrNothing) {
  for (int64_t fail_at = 1; fail_at <= 4; ++fail_at) {
    SCOPED_TRACE(fail_at);
    store_->Reset();
    store_->FailAtWrite(fail_at);
    EXPECT_THAT(FourWrites(1), StatusIs(absl::StatusCode::kInternal));
    ExpectCommittedThrough(0);
  }
  store_->Reset();
  store_->FailAtWrite(5);  // beyond the transaction: it commits
  EXPECT_THAT(FourWrites(1), IsOk());
  ExpectCommittedThrough(1);
}

// One transaction with each ceremony write (issue 3), all counted.
absl::Status CeremonyWrites(Store& store) {
  return store.Transact(
      TxMode::kReadWrite, [](Transaction& tx) -> absl::Status {
        RETURN_IF_ERROR(
            tx.InsertOperator({.name = "alice", .public_key = "k"}));
        RETURN_IF_ERROR(tx.SetOperatorActive("alice", false));
        RETURN_IF_ERROR(
            tx.InsertCeremonyRequest({.id = "r1", .proposer = "alice"}));
        RETURN_IF_ERROR(tx.InsertApproval(
            {.request_id = "r1", .operator_name = "alice", .signature = "s"}));
        RETURN_IF_ERROR(tx.CloseCeremonyRequest(
            "r1", "executed", absl::FromUnixSeconds(1), "ok"));
        // Reads are not counted.
        RETURN_IF_ERROR(tx.GetOperator("alice").status());
        RETURN_IF_ERROR(tx.ListOperators().status());
        RETURN_IF_ERROR(tx.GetCeremonyRequest("r1").status());
        RETURN_IF_ERROR(tx.ListCeremonyRequests("", 10).status());
        return tx.ListApprovals("r1").status();
      });
}

TEST_P(FaultInjectionStoreTest, CeremonyWritesAreCountedAndRolledBack) {
  ASSERT_THAT(CeremonyWrites(*store_), IsOk());
  EXPECT_EQ(store_->writes(), 5);

  for (int64_t fail_at = 1; fail_at <= 5; ++fail_at) {
    SCOPED_TRACE(fail_at);
    auto fresh = GetParam().make_store();
    ASSERT_THAT(fresh, IsOk());
    OwningFaultInjectionStore store(*std::move(fresh));
    store.FailAtWrite(fail_at);
    EXPECT_THAT(CeremonyWrites(store), StatusIs(absl::StatusCode::kInternal,
                                                HasSubstr("injected fault")));
    ASSERT_THAT(store.Transact(TxMode::kReadOnly,
                               [](Transaction& tx) -> absl::Status {
                                 EXPECT_THAT(tx.ListOperators(),
                                             IsOkAndHolds(testing::IsEmpty()));
                                 EXPECT_THAT(tx.ListCeremonyRequests("", 10),
                                             IsOkAndHolds(testing::IsEmpty()));
                                 EXPECT_THAT(tx.ListApprovals("r1"),
                                             IsOkAndHolds(testing::IsEmpty()));
                                 return absl::OkStatus();
                               }),
                IsOk());
  }
}

// One transaction with each certificate write (issue 3), both counted.
absl::Status CertificateWrites(Store& store) {
  return store.Transact(
      TxMode::kReadWrite, [](Transaction& tx) -> absl::Status {
        RETURN_IF_ERROR(tx.InsertCertificate(
            {.serial_hex = "0a", .credential_id = "c1", .der = "d"}));
        RETURN_IF_ERROR(
            tx.RevokeCertificate("0a", absl::FromUnixSeconds(1), 1));
        // Reads are not counted.
        RETURN_IF_ERROR(tx.GetCertificate("0a").status());
        RETURN_IF_ERROR(tx.ListCertificates("").status());
        RETURN_IF_ERROR(tx.ListCertificates("c1").status());
        return tx.ListRevokedCertificates().status();
      });
}

TEST_P(FaultInjectionStoreTest, CertificateWritesAreCountedAndRolledBack) {
  ASSERT_THAT(CertificateWrites(*store_), IsOk());
  EXPECT_EQ(store_->writes(), 2);

  for (int64_t fail_at = 1; fail_at <= 2; ++fail_at) {
    SCOPED_TRACE(fail_at);
    auto fresh = GetParam().make_store();
    ASSERT_THAT(fresh, IsOk());
    OwningFaultInjectionStore store(*std::move(fresh));
    store.FailAtWrite(fail_at);
    EXPECT_THAT(
        CertificateWrites(store),
        StatusIs(absl::StatusCode::kInternal, HasSubstr("injected fault")));
    ASSERT_THAT(store.Transact(TxMode::kReadOnly,
                               [](Transaction& tx) -> absl::Status {
                                 EXPECT_THAT(tx.ListCertificates(""),
                                             IsOkAndHolds(testing::IsEmpty()));
                                 EXPECT_THAT(tx.ListRevokedCertificates(),
                                             IsOkAndHolds(testing::IsEmpty()));
                                 return absl::OkStatus();
                               }),
                IsOk());
  }
}

// One transaction with each client, grant and factor write (issue 4), all
// counted; the user it needs is inserted first (one more write).
absl::Status AccessWrites(Store& store) {
  return store.Transact(
      TxMode::kReadWrite, [](Transaction& tx) -> absl::Status {
        ASSIGN_OR_RETURN(int64_t user, tx.InsertUser({.name = "alice"}));
        RETURN_IF_ERROR(tx.InsertClient(
            {.client_id = "app", .redirect_uris = {"https://a/cb"}}));
        RETURN_IF_ERROR(tx.SetClientActive("app", false));
        RETURN_IF_ERROR(tx.InsertGrant({.id = "g1",
                                        .kind = "code",
                                        .user_id = user,
                                        .parent = "p",
                                        .expires = absl::FromUnixSeconds(5)}));
        RETURN_IF_ERROR(tx.UpdateGrant("g1", 0, "", false));
        RETURN_IF_ERROR(tx.RevokeGrantsWithParent("p").status());
        RETURN_IF_ERROR(
            tx.DeleteExpiredGrants(absl::FromUnixSeconds(1)).status());
        RETURN_IF_ERROR(tx.PutFactor({.user_id = user, .kind = "totp"}));
        RETURN_IF_ERROR(tx.UpdateFactorState(user, "totp", 3, 0, false));
        // Reads are not counted.
        RETURN_IF_ERROR(tx.GetClient("app").status());
        RETURN_IF_ERROR(tx.ListClients().status());
        RETURN_IF_ERROR(tx.GetGrant("g1").status());
        RETURN_IF_ERROR(tx.GetFactor(user, "totp").status());
        return tx.ListFactors(user).status();
      });
}

TEST_P(FaultInjectionStoreTest, AccessWritesAreCountedAndRolledBack) {
  ASSERT_THAT(AccessWrites(*store_), IsOk());
  EXPECT_EQ(store_->writes(), 9);

  for (int64_t fail_at = 1; fail_at <= 9; ++fail_at) {
    SCOPED_TRACE(fail_at);
    auto fresh = GetParam().make_store();
    ASSERT_THAT(fresh, IsOk());
    OwningFaultInjectionStore store(*std::move(fresh));
    store.FailAtWrite(fail_at);
    EXPECT_THAT(AccessWrites(store), StatusIs(absl::StatusCode::kInternal,
                                              HasSubstr("injected fault")));
    ASSERT_THAT(
        store.Transact(
            TxMode::kReadOnly,
            [](Transaction& tx) -> absl::Status {
              EXPECT_THAT(tx.ListUsers(), IsOkAndHolds(testing::IsEmpty()));
              EXPECT_THAT(tx.ListClients(), IsOkAndHolds(testing::IsEmpty()));
              EXPECT_THAT(tx.GetGrant("g1"),
                          StatusIs(absl::StatusCode::kNotFound));
              return absl::OkStatus();
            }),
        IsOk());
  }
}

}  // namespace
}  // namespace inkan::storage
