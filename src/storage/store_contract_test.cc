// The storage::Store contract suite (see store_contract_test.h). Backends
// instantiate it in their own test files.
#include "storage/store_contract_test.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/status_macros.h"
#include "storage/store.h"

namespace inkan::storage {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::Eq;
using ::testing::Field;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::Optional;
using ::testing::UnorderedElementsAre;

const absl::Time kT0 = absl::FromUnixMicros(1798761600123456);

UserRecord User(std::string name) {
  UserRecord user;
  user.name = std::move(name);
  user.created = kT0;
  return user;
}

CredentialRecord Credential(std::string id, int64_t user_id) {
  CredentialRecord cred;
  cred.id = std::move(id);
  cred.user_id = user_id;
  cred.algorithm = "ec-p256";
  cred.backend = "software";
  cred.public_key = std::string("\x30\x59\x00\x13", 4);
  cred.sealed_key = std::string("sealed\x00key\x00", 11);
  cred.created = kT0 + absl::Seconds(1);
  return cred;
}

AuditEntryRow Entry(int64_t seq) {
  AuditEntryRow row;
  row.seq = seq;
  row.entry = "{\"seq\":" + std::to_string(seq) + "}";
  row.leaf_hash = std::string(32, static_cast<char>(seq));
  row.leaf_hash[0] = '\0';
  return row;
}

CheckpointRow Checkpoint(int64_t size) {
  CheckpointRow row;
  row.tree_size = size;
  row.note = "inkan-log\n" + std::to_string(size) + "\n";
  row.signature = std::string("\x00sig\x00", 5) + std::to_string(size);
  return row;
}

OperatorRecord Operator(std::string name) {
  OperatorRecord op;
  op.public_key = std::string("\x30\x2a\x00\x06", 4) + name;
  op.name = std::move(name);
  op.created = kT0 + absl::Minutes(1);
  return op;
}

CeremonyRequestRecord Request(std::string id,
                              absl::Time created = kT0 + absl::Minutes(2)) {
  CeremonyRequestRecord req;
  req.canonical = "{\"nonce\":\"" + id + "\",\"operation\":\"ca.init\"}";
  req.id = std::move(id);
  req.operation = "ca.init";
  req.proposer = "alice";
  req.created = created;
  req.expires = created + absl::Hours(24);
  return req;
}

ApprovalRecord Approval(std::string request_id, std::string operator_name) {
  ApprovalRecord approval;
  approval.signature = std::string("\x00sig\x00", 5) + operator_name;
  approval.request_id = std::move(request_id);
  approval.operator_name = std::move(operator_name);
  approval.at = kT0 + absl::Minutes(3);
  return approval;
}

CertificateRecord Certificate(std::string serial, std::string credential_id,
                              absl::Time issued = kT0 + absl::Minutes(4)) {
  CertificateRecord cert;
  cert.subject = "CN=" + serial + ",O=inkan";
  // DER with NUL bytes, as real certificates have.
  cert.der = std::string("\x30\x82\x01\x00\x02\x01\x00", 7) + serial +
             std::string("\x00\xff", 2);
  cert.serial_hex = std::move(serial);
  cert.credential_id = std::move(credential_id);
  cert.not_before = issued - absl::Minutes(5);
  cert.not_after = issued + absl::Hours(24 * 365);
  cert.issued = issued;
  return cert;
}

MATCHER_P(OperatorIs, expected, "") {
  return arg.name == expected.name && arg.public_key == expected.public_key &&
         arg.created == expected.created && arg.active == expected.active;
}
MATCHER_P(RequestIs, expected, "") {
  return arg.id == expected.id && arg.canonical == expected.canonical &&
         arg.operation == expected.operation &&
         arg.proposer == expected.proposer && arg.created == expected.created &&
         arg.expires == expected.expires && arg.state == expected.state &&
         arg.closed == expected.closed && arg.outcome == expected.outcome;
}
MATCHER_P(ApprovalIs, expected, "") {
  return arg.request_id == expected.request_id &&
         arg.operator_name == expected.operator_name &&
         arg.signature == expected.signature && arg.at == expected.at;
}

MATCHER_P(CertificateIs, expected, "") {
  return arg.serial_hex == expected.serial_hex &&
         arg.credential_id == expected.credential_id &&
         arg.subject == expected.subject && arg.der == expected.der &&
         arg.not_before == expected.not_before &&
         arg.not_after == expected.not_after && arg.issued == expected.issued &&
         arg.revoked == expected.revoked &&
         arg.revoked_at == expected.revoked_at && arg.reason == expected.reason;
}

// The serials of `certs`, in order.
std::vector<std::string> Serials(const std::vector<CertificateRecord>& certs) {
  std::vector<std::string> out;
  for (const CertificateRecord& cert : certs) out.push_back(cert.serial_hex);
  return out;
}

ClientRecord Client(std::string client_id) {
  ClientRecord client;
  client.name = "App " + client_id;
  client.redirect_uris = {"https://" + client_id + ".example/cb",
                          "http://127.0.0.1:8080/callback"};
  client.secret_hash = std::string(64, 'c');
  client.client_id = std::move(client_id);
  client.created = kT0 + absl::Minutes(5);
  return client;
}

GrantRecord Grant(std::string id, int64_t user_id,
                  std::string kind = "access") {
  GrantRecord grant;
  grant.id = std::move(id);
  grant.kind = std::move(kind);
  grant.user_id = user_id;
  grant.client_id = "app1";
  grant.scope = "service";
  grant.created = kT0 + absl::Minutes(6);
  grant.expires = grant.created + absl::Hours(1);
  return grant;
}

FactorRecord Factor(int64_t user_id, std::string kind) {
  FactorRecord factor;
  factor.user_id = user_id;
  if (kind == "totp") {
    factor.secret = std::string("sealed\x00totp\x00", 12);
  } else {
    factor.certificate = std::string("\x30\x82\x00\x00", 4) + "card";
  }
  factor.kind = std::move(kind);
  factor.created = kT0 + absl::Minutes(7);
  return factor;
}

MATCHER_P(ClientIs, expected, "") {
  return arg.client_id == expected.client_id && arg.name == expected.name &&
         arg.redirect_uris == expected.redirect_uris &&
         arg.secret_hash == expected.secret_hash &&
         arg.created == expected.created && arg.active == expected.active;
}

MATCHER_P(GrantIs, expected, "") {
  return arg.id == expected.id && arg.kind == expected.kind &&
         arg.user_id == expected.user_id &&
         arg.client_id == expected.client_id && arg.scope == expected.scope &&
         arg.credential_id == expected.credential_id &&
         arg.hashes == expected.hashes && arg.uses_left == expected.uses_left &&
         arg.parent == expected.parent && arg.data == expected.data &&
         arg.created == expected.created && arg.expires == expected.expires &&
         arg.revoked == expected.revoked;
}

MATCHER_P(FactorIs, expected, "") {
  return arg.user_id == expected.user_id && arg.kind == expected.kind &&
         arg.secret == expected.secret &&
         arg.certificate == expected.certificate &&
         arg.last_step == expected.last_step &&
         arg.failed_tries == expected.failed_tries &&
         arg.locked == expected.locked && arg.created == expected.created;
}

MATCHER_P(EntryIs, expected, "") {
  return arg.seq == expected.seq && arg.entry == expected.entry &&
         arg.leaf_hash == expected.leaf_hash;
}
MATCHER_P(CheckpointIs, expected, "") {
  return arg.tree_size == expected.tree_size && arg.note == expected.note &&
         arg.signature == expected.signature;
}

// --- Transactions ---------------------------------------------------------

TEST_P(StoreContractTest, CommitsWhenCallbackReturnsOk) {
  ASSERT_THAT(Write([](Transaction& tx) { return tx.PutMeta("k", "v"); }),
              IsOk());
  std::optional<std::string> value;
  ASSERT_THAT(Read([&](Transaction& tx) -> absl::Status {
                ASSIGN_OR_RETURN(value, tx.GetMeta("k"));
                return absl::OkStatus();
              }),
              IsOk());
  EXPECT_THAT(value, Optional(std::string("v")));
}

TEST_P(StoreContractTest, RollsBackEverythingWhenCallbackFails) {
  ASSERT_THAT(Write([](Transaction& tx) -> absl::Status {
                RETURN_IF_ERROR(tx.PutMeta("kept", "before"));
                ASSIGN_OR_RETURN(int64_t id, tx.InsertUser(User("keeper")));
                RETURN_IF_ERROR(tx.InsertCredential(Credential("c0", id)));
                return tx.AppendAuditEntry(Entry(1));
              }),
              IsOk());

  absl::Status status = Write([](Transaction& tx) -> absl::Status {
    RETURN_IF_ERROR(tx.PutMeta("kept", "after"));
    RETURN_IF_ERROR(tx.PutMeta("new", "x"));
    ASSIGN_OR_RETURN(int64_t id, tx.InsertUser(User("ghost")));
    RETURN_IF_ERROR(tx.InsertCredential(Credential("c1", id)));
    RETURN_IF_ERROR(tx.UpdateCredentialTries("c0", 3, true));
    RETURN_IF_ERROR(tx.AppendAuditEntry(Entry(2)));
    RETURN_IF_ERROR(tx.AppendCheckpoint(Checkpoint(2)));
    return absl::AbortedError("caller gave up");
  });
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kAborted,
                               HasSubstr("caller gave up")));

  ASSERT_THAT(Read([](Transaction& tx) -> absl::Status {
                EXPECT_THAT(tx.GetMeta("kept"),
                            IsOkAndHolds(Optional(std::string("before"))));
                EXPECT_THAT(tx.GetMeta("new"), IsOkAndHolds(Eq(std::nullopt)));
                EXPECT_THAT(tx.GetUserByName("ghost"),
                            StatusIs(absl::StatusCode::kNotFound));
                EXPECT_THAT(tx.GetCredential("c1"),
                            StatusIs(absl::StatusCode::kNotFound));
                ASSIGN_OR_RETURN(CredentialRecord c0, tx.GetCredential("c0"));
                EXPECT_EQ(c0.failed_tries, 0);
                EXPECT_FALSE(c0.locked);
                EXPECT_THAT(tx.AuditEntryCount(), IsOkAndHolds(Eq(1)));
                EXPECT_THAT(tx.LatestCheckpoint(),
                            IsOkAndHolds(Eq(std::nullopt)));
                ASSIGN_OR_RETURN(auto users, tx.ListUsers());
                EXPECT_EQ(users.size(), 1u);
                return absl::OkStatus();
              }),
              IsOk());
}

TEST_P(StoreContractTest, FailedOperationInsideTransactionCanBeRecovered) {
  // A caller may handle an error (e.g. AlreadyExists) and still commit the
  // rest of its transaction.
  ASSERT_THAT(Write([](Transaction& tx) {
                return tx.InsertUser(User("alice")).status();
              }),
              IsOk());
  ASSERT_THAT(Write([](Transaction& tx) -> absl::Status {
                EXPECT_THAT(tx.InsertUser(User("alice")),
                            StatusIs(absl::StatusCode::kAlreadyExists));
                return tx.PutMeta("after", "yes");
              }),
              IsOk());
  ASSERT_THAT(Read([](Transaction& tx) -> absl::Status {
                EXPECT_THAT(tx.GetMeta("after"),
                            IsOkAndHolds(Optional(std::string("yes"))));
                return absl::OkStatus();
              }),
              IsOk());
}

TEST_P(StoreContractTest, ReadOnlyTransactionRefusesEveryWrite) {
  ASSERT_THAT(Write([](Transaction& tx) -> absl::Status {
                ASSIGN_OR_RETURN(int64_t id, tx.InsertUser(User("alice")));
                return tx.InsertCredential(Credential("c0", id));
              }),
              IsOk());
  ASSERT_THAT(Read([](Transaction& tx) -> absl::Status {
                constexpr auto kRefused = absl::StatusCode::kFailedPrecondition;
                EXPECT_THAT(tx.PutMeta("k", "v"), StatusIs(kRefused));
                EXPECT_THAT(tx.InsertUser(User("bob")), StatusIs(kRefused));
                EXPECT_THAT(tx.InsertCredential(Credential("c1", 1)),
                            StatusIs(kRefused));
                EXPECT_THAT(tx.UpdateCredentialTries("c0", 1, false),
                            StatusIs(kRefused));
                EXPECT_THAT(tx.AppendAuditEntry(Entry(1)), StatusIs(kRefused));
                EXPECT_THAT(tx.AppendCheckpoint(Checkpoint(1)),
                            StatusIs(kRefused));
                // Reads still work.
                EXPECT_THAT(tx.GetUserByName("alice"), IsOk());
                return absl::OkStatus();
              }),
              IsOk());
  ASSERT_THAT(Read([](Transaction& tx) -> absl::Status {
                EXPECT_THAT(tx.GetMeta("k"), IsOkAndHolds(Eq(std::nullopt)));
                EXPECT_THAT(tx.GetUserByName("bob"),
                            StatusIs(absl::StatusCode::kNotFound));
                EXPECT_THAT(tx.AuditEntryCount(), IsOkAndHolds(Eq(0)));
                return absl::OkStatus();
              }),
              IsOk());
}

TEST_P(StoreContractTest, ReadOnlyTransactionReturnsCallbackStatus) {
  EXPECT_THAT(Read([](Transaction&) { return absl::NotFoundError("nope"); }),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("nope")));
}

TEST_P(StoreContractTest, WritesAreVisibleLaterInTheSameTransaction) {
  ASSERT_THAT(Write([](Transaction& tx) -> absl::Status {
                RETURN_IF_ERROR(tx.PutMeta("k", "v"));
                EXPECT_THAT(tx.GetMeta("k"),
                            IsOkAndHolds(Optional(std::string("v"))));
                ASSIGN_OR_RETURN(int64_t id, tx.InsertUser(User("alice")));
                EXPECT_THAT(tx.GetUserById(id), IsOk());
                RETURN_IF_ERROR(tx.AppendAuditEntry(Entry(1)));
                EXPECT_THAT(tx.AuditEntryCount(), IsOkAndHolds(Eq(1)));
                return absl::OkStatus();
              }),
              IsOk());
}

// --- Users ----------------------------------------------------------------

TEST_P(StoreContractTest, InsertsAndLooksUpUsers) {
  int64_t alice_id = 0;
  int64_t bob_id = 0;
  ASSERT_THAT(Write([&](Transaction& tx) -> absl::Status {
                UserRecord alice = User("alice");
                alice.id = 999;  // ignored: the store assigns ids
                ASSIGN_OR_RETURN(alice_id, tx.InsertUser(alice));
                UserRecord bob = User("bob");
                bob.created = kT0 + absl::Hours(1);
                ASSIGN_OR_RETURN(bob_id, tx.InsertUser(bob));
                return absl::OkStatus();
              }),
              IsOk());
  EXPECT_GT(alice_id, 0);
  EXPECT_NE(alice_id, bob_id);
  ASSERT_THAT(Read([&](Transaction& tx) -> absl::Status {
                ASSIGN_OR_RETURN(UserRecord alice, tx.GetUserByName("alice"));
                EXPECT_EQ(alice.id, alice_id);
                EXPECT_EQ(alice.name, "alice");
                EXPECT_EQ(alice.created, kT0);
                ASSIGN_OR_RETURN(UserRecord bob, tx.GetUserById(bob_id));
                EXPECT_EQ(bob.name, "bob");
                EXPECT_EQ(bob.created, kT0 + absl::Hours(1));
                ASSIGN_OR_RETURN(std::vector<UserRecord> users, tx.ListUsers());
                EXPECT_THAT(users, UnorderedElementsAre(
                                       Field(&UserRecord::id, alice_id),
                                       Field(&UserRecord::id, bob_id)));
                return absl::OkStatus();
              }),
              IsOk());
}

TEST_P(StoreContractTest, DuplicateUserNameIsAlreadyExists) {
  ASSERT_THAT(Write([](Transaction& tx) {
                return tx.InsertUser(User("alice")).status();
              }),
              IsOk());
  EXPECT_THAT(Write([](Transaction& tx) {
                return tx.InsertUser(User("alice")).status();
              }),
              StatusIs(absl::StatusCode::kAlreadyExists));
}

TEST_P(StoreContractTest, MissingUserIsNotFound) {
  ASSERT_THAT(
      Read([](Transaction& tx) -> absl::Status {
        EXPECT_THAT(tx.GetUserByName("nobody"),
                    StatusIs(absl::StatusCode::kNotFound, HasSubstr("nobody")));
        EXPECT_THAT(tx.GetUserById(42),
                    StatusIs(absl::StatusCode::kNotFound, HasSubstr("42")));
        EXPECT_THAT(tx.ListUsers(), IsOkAndHolds(IsEmpty()));
        return absl::OkStatus();
      }),
      IsOk());
}

TEST_P(StoreContractTest, UserIdsOfRolledBackInsertsAreNotReused) {
  // Ids may skip after a rollback, but a committed id always names the same
  // user.
  int64_t first = 0;
  ASSERT_THAT(Write([&](Transaction& tx) -> absl::Status {
                ASSIGN_OR_RETURN(first, tx.InsertUser(User("a")));
                return absl::OkStatus();
              }),
              IsOk());
  int64_t second = 0;
  ASSERT_THAT(Write([&](Transaction& tx) -> absl::Status {
                ASSIGN_OR_RETURN(second, tx.InsertUser(User("b")));
                return absl::OkStatus();
              }),
              IsOk());
  EXPECT_GT(second, first);
  ASSERT_THAT(Read([&](Transaction& tx) -> absl::Status {
                EXPECT_THAT(tx.GetUserById(first),
                            IsOkAndHolds(Field(&UserRecord::name, "a")));
                EXPECT_THAT(tx.GetUserById(second),
                            IsOkAndHolds(Field(&UserRecord::name, "b")));
                return absl::OkStatus();
              }),
              IsOk());
}

// --- Credentials ----------------------------------------------------------

TEST_P(StoreContractTest, CredentialRoundTripsExactly) {
  CredentialRecord cred;
  ASSERT_THAT(Write([&](Transaction& tx) -> absl::Status {
                ASSIGN_OR_RETURN(int64_t id, tx.InsertUser(User("alice")));
                cred = Credential("0123abcd", id);
                cred.failed_tries = 2;
                cred.locked = true;
                // Every byte value, NULs included.
                cred.public_key.clear();
                for (int i = 0; i < 256; ++i) {
                  cred.public_key.push_back(static_cast<char>(i));
                }
                return tx.InsertCredential(cred);
              }),
              IsOk());
  ASSERT_THAT(Read([&](Transaction& tx) -> absl::Status {
                ASSIGN_OR_RETURN(CredentialRecord got,
                                 tx.GetCredential("0123abcd"));
                EXPECT_EQ(got.id, cred.id);
                EXPECT_EQ(got.user_id, cred.user_id);
                EXPECT_EQ(got.algorithm, cred.algorithm);
                EXPECT_EQ(got.backend, cred.backend);
                EXPECT_EQ(got.public_key, cred.public_key);
                EXPECT_EQ(got.sealed_key, cred.sealed_key);
                EXPECT_EQ(got.sealed_key.size(), 11u);
                EXPECT_EQ(got.failed_tries, 2);
                EXPECT_TRUE(got.locked);
                EXPECT_EQ(got.created, cred.created);
                return absl::OkStatus();
              }),
              IsOk());
}

TEST_P(StoreContractTest, EmptyBlobsRoundTrip) {
  ASSERT_THAT(Write([&](Transaction& tx) -> absl::Status {
                ASSIGN_OR_RETURN(int64_t id, tx.InsertUser(User("alice")));
                CredentialRecord cred = Credential("c", id);
                cred.public_key.clear();
                cred.sealed_key.clear();
                RETURN_IF_ERROR(tx.InsertCredential(cred));
                RETURN_IF_ERROR(tx.PutMeta("empty", ""));
                CheckpointRow cp = Checkpoint(0);
                cp.signature.clear();
                return tx.AppendCheckpoint(cp);
              }),
              IsOk());
  ASSERT_THAT(Read([&](Transaction& tx) -> absl::Status {
                ASSIGN_OR_RETURN(CredentialRecord got, tx.GetCredential("c"));
                EXPECT_EQ(got.public_key, "");
                EXPECT_EQ(got.sealed_key, "");
                EXPECT_THAT(tx.GetMeta("empty"),
                            IsOkAndHolds(Optional(std::string())));
                ASSIGN_OR_RETURN(std::optional<CheckpointRow> cp,
                                 tx.LatestCheckpoint());
                EXPECT_TRUE(cp.has_value() && cp->signature.empty());
                return absl::OkStatus();
              }),
              IsOk());
}

TEST_P(StoreContractTest, CredentialForMissingUserIsFailedPrecondition) {
  EXPECT_THAT(Write([](Transaction& tx) {
                return tx.InsertCredential(Credential("c0", 12345));
              }),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  ASSERT_THAT(
      Read([](Transaction& tx) { return tx.GetCredential("c0").status(); }),
      StatusIs(absl::StatusCode::kNotFound));
}

TEST_P(StoreContractTest, DuplicateCredentialIdIsAlreadyExists) {
  ASSERT_THAT(Write([](Transaction& tx) -> absl::Status {
                ASSIGN_OR_RETURN(int64_t id, tx.InsertUser(User("alice")));
                return tx.InsertCredential(Credential("c0", id));
              }),
              IsOk());
  absl::Status status = Write([](Transaction& tx) -> absl::Status {
    ASSIGN_OR_RETURN(UserRecord alice, tx.GetUserByName("alice"));
    return tx.InsertCredential(Credential("c0", alice.id));
  });
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kAlreadyExists));
  // Errors never carry secrets.
  EXPECT_THAT(std::string(status.message()), Not(HasSubstr("sealed")));
}

TEST_P(StoreContractTest, ListsOnlyTheUsersCredentials) {
  int64_t alice = 0;
  int64_t bob = 0;
  ASSERT_THAT(Write([&](Transaction& tx) -> absl::Status {
                ASSIGN_OR_RETURN(alice, tx.InsertUser(User("alice")));
                ASSIGN_OR_RETURN(bob, tx.InsertUser(User("bob")));
                RETURN_IF_ERROR(tx.InsertCredential(Credential("a1", alice)));
                RETURN_IF_ERROR(tx.InsertCredential(Credential("b1", bob)));
                return tx.InsertCredential(Credential("a2", alice));
              }),
              IsOk());
  ASSERT_THAT(
      Read([&](Transaction& tx) -> absl::Status {
        ASSIGN_OR_RETURN(auto alices, tx.ListCredentials(alice));
        EXPECT_THAT(alices,
                    UnorderedElementsAre(Field(&CredentialRecord::id, "a1"),
                                         Field(&CredentialRecord::id, "a2")));
        ASSIGN_OR_RETURN(auto bobs, tx.ListCredentials(bob));
        EXPECT_THAT(bobs, ElementsAre(Field(&CredentialRecord::id, "b1")));
        EXPECT_THAT(tx.ListCredentials(bob + alice + 100),
                    IsOkAndHolds(IsEmpty()));
        return absl::OkStatus();
      }),
      IsOk());
}

TEST_P(StoreContractTest, UpdatesCredentialTries) {
  ASSERT_THAT(Write([](Transaction& tx) -> absl::Status {
                ASSIGN_OR_RETURN(int64_t id, tx.InsertUser(User("alice")));
                RETURN_IF_ERROR(tx.InsertCredential(Credential("c0", id)));
                RETURN_IF_ERROR(tx.InsertCredential(Credential("c1", id)));
                return tx.UpdateCredentialTries("c0", 5, true);
              }),
              IsOk());
  ASSERT_THAT(Read([](Transaction& tx) -> absl::Status {
                ASSIGN_OR_RETURN(CredentialRecord c0, tx.GetCredential("c0"));
                EXPECT_EQ(c0.failed_tries, 5);
                EXPECT_TRUE(c0.locked);
                EXPECT_EQ(c0.sealed_key, Credential("", 0).sealed_key);
                ASSIGN_OR_RETURN(CredentialRecord c1, tx.GetCredential("c1"));
                EXPECT_EQ(c1.failed_tries, 0);
                EXPECT_FALSE(c1.locked);
                return absl::OkStatus();
              }),
              IsOk());
  ASSERT_THAT(Write([](Transaction& tx) {
                return tx.UpdateCredentialTries("c0", 0, false);
              }),
              IsOk());
  ASSERT_THAT(Read([](Transaction& tx) -> absl::Status {
                ASSIGN_OR_RETURN(CredentialRecord c0, tx.GetCredential("c0"));
                EXPECT_EQ(c0.failed_tries, 0);
                EXPECT_FALSE(c0.locked);
                return absl::OkStatus();
              }),
              IsOk());
}

TEST_P(StoreContractTest, MissingCredentialIsNotFound) {
  EXPECT_THAT(Read([](Transaction& tx) {
                return tx.GetCredential("deadbeef").status();
              }),
              StatusIs(absl::StatusCode::kNotFound,
                       HasSubstr("no credential with id deadbeef")));
  EXPECT_THAT(Write([](Transaction& tx) {
                return tx.UpdateCredentialTries("deadbeef", 1, false);
              }),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("deadbeef")));
}

// --- Meta -----------------------------------------------------------------

TEST_P(StoreContractTest, MetaGetPutOverwrite) {
  ASSERT_THAT(Read([](Transaction& tx) -> absl::Status {
                EXPECT_THAT(tx.GetMeta("log_id"),
                            IsOkAndHolds(Eq(std::nullopt)));
                return absl::OkStatus();
              }),
              IsOk());
  ASSERT_THAT(Write([](Transaction& tx) -> absl::Status {
                RETURN_IF_ERROR(tx.PutMeta("log_id", "one"));
                return tx.PutMeta("other", "x");
              }),
              IsOk());
  ASSERT_THAT(
      Write([](Transaction& tx) { return tx.PutMeta("log_id", "two"); }),
      IsOk());
  ASSERT_THAT(Read([](Transaction& tx) -> absl::Status {
                EXPECT_THAT(tx.GetMeta("log_id"),
                            IsOkAndHolds(Optional(std::string("two"))));
                EXPECT_THAT(tx.GetMeta("other"),
                            IsOkAndHolds(Optional(std::string("x"))));
                return absl::OkStatus();
              }),
              IsOk());
}

TEST_P(StoreContractTest, MetaValuesWithNulBytesRoundTrip) {
  const std::string key("k\x00y", 3);
  const std::string value("v\x00\x01\xff", 4);
  ASSERT_THAT(Write([&](Transaction& tx) { return tx.PutMeta(key, value); }),
              IsOk());
  ASSERT_THAT(Read([&](Transaction& tx) -> absl::Status {
                EXPECT_THAT(tx.GetMeta(key), IsOkAndHolds(Optional(value)));
                EXPECT_THAT(tx.GetMeta("k"), IsOkAndHolds(Eq(std::nullopt)));
                return absl::OkStatus();
              }),
              IsOk());
}

// --- Audit log ------------------------------------------------------------

TEST_P(StoreContractTest, AuditEntriesMustBeContiguousFromOne) {
  EXPECT_THAT(
      Write([](Transaction& tx) { return tx.AppendAuditEntry(Entry(0)); }),
      StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(
      Write([](Transaction& tx) { return tx.AppendAuditEntry(Entry(2)); }),
      StatusIs(absl::StatusCode::kFailedPrecondition));
  ASSERT_THAT(Write([](Transaction& tx) -> absl::Status {
                RETURN_IF_ERROR(tx.AppendAuditEntry(Entry(1)));
                return tx.AppendAuditEntry(Entry(2));
              }),
              IsOk());
  ASSERT_THAT(Write([](Transaction& tx) -> absl::Status {
                constexpr auto kGap = absl::StatusCode::kFailedPrecondition;
                EXPECT_THAT(tx.AppendAuditEntry(Entry(2)), StatusIs(kGap));
                EXPECT_THAT(tx.AppendAuditEntry(Entry(1)), StatusIs(kGap));
                EXPECT_THAT(tx.AppendAuditEntry(Entry(4)), StatusIs(kGap));
                EXPECT_THAT(tx.AppendAuditEntry(Entry(-1)), StatusIs(kGap));
                return tx.AppendAuditEntry(Entry(3));
              }),
              IsOk());
  ASSERT_THAT(Read([](Transaction& tx) -> absl::Status {
                EXPECT_THAT(tx.AuditEntryCount(), IsOkAndHolds(Eq(3)));
                return absl::OkStatus();
              }),
              IsOk());
}

TEST_P(StoreContractTest, ReadsAuditEntryRanges) {
  ASSERT_THAT(Write([](Transaction& tx) -> absl::Status {
                for (int64_t seq = 1; seq <= 10; ++seq) {
                  RETURN_IF_ERROR(tx.AppendAuditEntry(Entry(seq)));
                }
                return absl::OkStatus();
              }),
              IsOk());
  ASSERT_THAT(
      Read([](Transaction& tx) -> absl::Status {
        EXPECT_THAT(tx.AuditEntryCount(), IsOkAndHolds(Eq(10)));
        EXPECT_THAT(
            tx.ReadAuditEntries(3, 3),
            IsOkAndHolds(ElementsAre(EntryIs(Entry(3)), EntryIs(Entry(4)),
                                     EntryIs(Entry(5)))));
        EXPECT_THAT(tx.ReadAuditEntries(1, 1),
                    IsOkAndHolds(ElementsAre(EntryIs(Entry(1)))));
        EXPECT_THAT(
            tx.ReadAuditEntries(9, 100),
            IsOkAndHolds(ElementsAre(EntryIs(Entry(9)), EntryIs(Entry(10)))));
        EXPECT_THAT(tx.ReadAuditEntries(0, 2),
                    IsOkAndHolds(ElementsAre(EntryIs(Entry(1)))));
        EXPECT_THAT(tx.ReadAuditEntries(11, 5), IsOkAndHolds(IsEmpty()));
        EXPECT_THAT(tx.ReadAuditEntries(4, 0), IsOkAndHolds(IsEmpty()));
        EXPECT_THAT(tx.ReadAuditEntries(1, INT64_MAX),
                    IsOkAndHolds(testing::SizeIs(10)));
        EXPECT_THAT(tx.ReadAuditEntries(1, -1),
                    StatusIs(absl::StatusCode::kInvalidArgument));
        ASSIGN_OR_RETURN(auto all, tx.ReadAuditEntries(1, 10));
        for (size_t i = 0; i < all.size(); ++i) {
          EXPECT_EQ(all[i].seq, static_cast<int64_t>(i + 1));
          EXPECT_EQ(all[i].leaf_hash.size(), 32u);  // leading NUL kept
        }
        return absl::OkStatus();
      }),
      IsOk());
}

TEST_P(StoreContractTest, EmptyAuditLog) {
  ASSERT_THAT(Read([](Transaction& tx) -> absl::Status {
                EXPECT_THAT(tx.AuditEntryCount(), IsOkAndHolds(Eq(0)));
                EXPECT_THAT(tx.ReadAuditEntries(1, 10),
                            IsOkAndHolds(IsEmpty()));
                return absl::OkStatus();
              }),
              IsOk());
}

// --- Checkpoints ----------------------------------------------------------

TEST_P(StoreContractTest, CheckpointsAreOrderedAndLatestIsLargest) {
  ASSERT_THAT(Read([](Transaction& tx) -> absl::Status {
                EXPECT_THAT(tx.LatestCheckpoint(),
                            IsOkAndHolds(Eq(std::nullopt)));
                EXPECT_THAT(tx.ReadCheckpoints(), IsOkAndHolds(IsEmpty()));
                return absl::OkStatus();
              }),
              IsOk());
  ASSERT_THAT(Write([](Transaction& tx) -> absl::Status {
                RETURN_IF_ERROR(tx.AppendCheckpoint(Checkpoint(4)));
                RETURN_IF_ERROR(tx.AppendCheckpoint(Checkpoint(16)));
                return tx.AppendCheckpoint(Checkpoint(8));
              }),
              IsOk());
  ASSERT_THAT(
      Read([](Transaction& tx) -> absl::Status {
        EXPECT_THAT(tx.ReadCheckpoints(),
                    IsOkAndHolds(ElementsAre(CheckpointIs(Checkpoint(4)),
                                             CheckpointIs(Checkpoint(8)),
                                             CheckpointIs(Checkpoint(16)))));
        EXPECT_THAT(tx.LatestCheckpoint(),
                    IsOkAndHolds(Optional(CheckpointIs(Checkpoint(16)))));
        return absl::OkStatus();
      }),
      IsOk());
}

TEST_P(StoreContractTest, DuplicateCheckpointIsAlreadyExists) {
  ASSERT_THAT(
      Write([](Transaction& tx) { return tx.AppendCheckpoint(Checkpoint(4)); }),
      IsOk());
  CheckpointRow other = Checkpoint(4);
  other.note = "different";
  EXPECT_THAT(
      Write([&](Transaction& tx) { return tx.AppendCheckpoint(other); }),
      StatusIs(absl::StatusCode::kAlreadyExists));
  ASSERT_THAT(Read([](Transaction& tx) -> absl::Status {
                EXPECT_THAT(
                    tx.ReadCheckpoints(),
                    IsOkAndHolds(ElementsAre(CheckpointIs(Checkpoint(4)))));
                return absl::OkStatus();
              }),
              IsOk());
}

// --- Operators ------------------------------------------------------------

TEST_P(StoreContractTest, InsertsOperatorsAndListsThemByName) {
  OperatorRecord carol = Operator("carol");
  carol.active = false;  // inserted already removed: kept as given
  carol.public_key.clear();
  for (int i = 0; i < 256; ++i)
    carol.public_key.push_back(static_cast<char>(i));
  OperatorRecord bob = Operator("bob");
  bob.created = kT0 + absl::Hours(5);
  ASSERT_THAT(Write([&](Transaction& tx) -> absl::Status {
                RETURN_IF_ERROR(tx.InsertOperator(carol));
                RETURN_IF_ERROR(tx.InsertOperator(Operator("alice")));
                return tx.InsertOperator(bob);
              }),
              IsOk());
  ASSERT_THAT(
      Read([&](Transaction& tx) -> absl::Status {
        EXPECT_THAT(tx.GetOperator("carol"), IsOkAndHolds(OperatorIs(carol)));
        EXPECT_THAT(tx.GetOperator("bob"), IsOkAndHolds(OperatorIs(bob)));
        EXPECT_THAT(tx.GetOperator("alice"),
                    IsOkAndHolds(OperatorIs(Operator("alice"))));
        EXPECT_THAT(
            tx.ListOperators(),
            IsOkAndHolds(ElementsAre(OperatorIs(Operator("alice")),
                                     OperatorIs(bob), OperatorIs(carol))));
        return absl::OkStatus();
      }),
      IsOk());
}

TEST_P(StoreContractTest, DuplicateOperatorNameIsAlreadyExists) {
  ASSERT_THAT(Write([](Transaction& tx) {
                return tx.InsertOperator(Operator("alice"));
              }),
              IsOk());
  OperatorRecord other = Operator("alice");
  other.public_key = "another key";
  EXPECT_THAT(Write([&](Transaction& tx) { return tx.InsertOperator(other); }),
              StatusIs(absl::StatusCode::kAlreadyExists, HasSubstr("alice")));
  ASSERT_THAT(Read([](Transaction& tx) -> absl::Status {
                EXPECT_THAT(
                    tx.ListOperators(),
                    IsOkAndHolds(ElementsAre(OperatorIs(Operator("alice")))));
                return absl::OkStatus();
              }),
              IsOk());
}

TEST_P(StoreContractTest, MissingOperatorIsNotFound) {
  ASSERT_THAT(Read([](Transaction& tx) -> absl::Status {
                EXPECT_THAT(
                    tx.GetOperator("nobody"),
                    StatusIs(absl::StatusCode::kNotFound, HasSubstr("nobody")));
                EXPECT_THAT(tx.ListOperators(), IsOkAndHolds(IsEmpty()));
                return absl::OkStatus();
              }),
              IsOk());
  EXPECT_THAT(Write([](Transaction& tx) {
                return tx.SetOperatorActive("nobody", false);
              }),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("nobody")));
}

TEST_P(StoreContractTest, SetsOperatorActive) {
  ASSERT_THAT(Write([](Transaction& tx) -> absl::Status {
                RETURN_IF_ERROR(tx.InsertOperator(Operator("alice")));
                RETURN_IF_ERROR(tx.InsertOperator(Operator("bob")));
                return tx.SetOperatorActive("alice", false);
              }),
              IsOk());
  ASSERT_THAT(
      Read([](Transaction& tx) -> absl::Status {
        EXPECT_THAT(tx.GetOperator("alice"),
                    IsOkAndHolds(Field(&OperatorRecord::active, false)));
        EXPECT_THAT(tx.GetOperator("bob"),
                    IsOkAndHolds(Field(&OperatorRecord::active, true)));
        // Removed operators are still listed.
        EXPECT_THAT(
            tx.ListOperators(),
            IsOkAndHolds(ElementsAre(Field(&OperatorRecord::active, false),
                                     Field(&OperatorRecord::active, true))));
        return absl::OkStatus();
      }),
      IsOk());
  // Setting the flag it already has is not an error.
  ASSERT_THAT(Write([](Transaction& tx) {
                return tx.SetOperatorActive("alice", false);
              }),
              IsOk());
  ASSERT_THAT(Write([](Transaction& tx) {
                return tx.SetOperatorActive("alice", true);
              }),
              IsOk());
  ASSERT_THAT(Read([](Transaction& tx) -> absl::Status {
                EXPECT_THAT(tx.GetOperator("alice"),
                            IsOkAndHolds(OperatorIs(Operator("alice"))));
                return absl::OkStatus();
              }),
              IsOk());
}

// --- Ceremony requests ----------------------------------------------------

TEST_P(StoreContractTest, CeremonyRequestRoundTripsExactly) {
  CeremonyRequestRecord req = Request("9f86d081");
  req.canonical = std::string("{\"p\":\"\x00\xff\"}", 10);
  ASSERT_THAT(
      Write([&](Transaction& tx) { return tx.InsertCeremonyRequest(req); }),
      IsOk());
  ASSERT_THAT(Read([&](Transaction& tx) -> absl::Status {
                ASSIGN_OR_RETURN(CeremonyRequestRecord got,
                                 tx.GetCeremonyRequest("9f86d081"));
                EXPECT_THAT(got, RequestIs(req));
                EXPECT_EQ(got.canonical.size(), 10u);
                EXPECT_EQ(got.state, "pending");
                EXPECT_EQ(got.closed, absl::Time());  // unset while pending
                EXPECT_EQ(got.outcome, "");
                return absl::OkStatus();
              }),
              IsOk());
}

TEST_P(StoreContractTest, DuplicateCeremonyRequestIdIsAlreadyExists) {
  ASSERT_THAT(Write([](Transaction& tx) {
                return tx.InsertCeremonyRequest(Request("r1"));
              }),
              IsOk());
  CeremonyRequestRecord other = Request("r1", kT0 + absl::Hours(1));
  other.operation = "operator.add";
  EXPECT_THAT(
      Write([&](Transaction& tx) { return tx.InsertCeremonyRequest(other); }),
      StatusIs(absl::StatusCode::kAlreadyExists, HasSubstr("r1")));
  ASSERT_THAT(Read([](Transaction& tx) -> absl::Status {
                EXPECT_THAT(tx.GetCeremonyRequest("r1"),
                            IsOkAndHolds(RequestIs(Request("r1"))));
                return absl::OkStatus();
              }),
              IsOk());
}

TEST_P(StoreContractTest, CeremonyRequestWithUnknownStateIsInvalidArgument) {
  CeremonyRequestRecord req = Request("r1");
  req.state = "approved";
  EXPECT_THAT(
      Write([&](Transaction& tx) { return tx.InsertCeremonyRequest(req); }),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("approved")));
  ASSERT_THAT(Read([](Transaction& tx) {
                return tx.GetCeremonyRequest("r1").status();
              }),
              StatusIs(absl::StatusCode::kNotFound));
}

TEST_P(StoreContractTest, MissingCeremonyRequestIsNotFound) {
  ASSERT_THAT(
      Read([](Transaction& tx) -> absl::Status {
        EXPECT_THAT(tx.GetCeremonyRequest("abc123"),
                    StatusIs(absl::StatusCode::kNotFound, HasSubstr("abc123")));
        EXPECT_THAT(tx.ListCeremonyRequests("", 10), IsOkAndHolds(IsEmpty()));
        return absl::OkStatus();
      }),
      IsOk());
}

TEST_P(StoreContractTest, ListsCeremonyRequestsByStateNewestFirst) {
  ASSERT_THAT(
      Write([](Transaction& tx) -> absl::Status {
        // Inserted out of order; r5 and r4 were created at the same
        // time (ties go by id, descending).
        RETURN_IF_ERROR(
            tx.InsertCeremonyRequest(Request("r2", kT0 + absl::Seconds(2))));
        RETURN_IF_ERROR(
            tx.InsertCeremonyRequest(Request("r4", kT0 + absl::Seconds(4))));
        RETURN_IF_ERROR(
            tx.InsertCeremonyRequest(Request("r1", kT0 + absl::Seconds(1))));
        RETURN_IF_ERROR(
            tx.InsertCeremonyRequest(Request("r3", kT0 + absl::Seconds(3))));
        RETURN_IF_ERROR(
            tx.InsertCeremonyRequest(Request("r5", kT0 + absl::Seconds(4))));
        RETURN_IF_ERROR(tx.CloseCeremonyRequest(
            "r3", "executed", kT0 + absl::Minutes(1), "done"));
        return tx.CloseCeremonyRequest("r1", "cancelled",
                                       kT0 + absl::Minutes(1), "withdrawn");
      }),
      IsOk());
  auto ids = [](const std::vector<CeremonyRequestRecord>& reqs) {
    std::vector<std::string> out;
    for (const CeremonyRequestRecord& req : reqs) out.push_back(req.id);
    return out;
  };
  ASSERT_THAT(
      Read([&](Transaction& tx) -> absl::Status {
        ASSIGN_OR_RETURN(auto all, tx.ListCeremonyRequests("", 100));
        EXPECT_THAT(ids(all), ElementsAre("r5", "r4", "r3", "r2", "r1"));
        ASSIGN_OR_RETURN(auto pending, tx.ListCeremonyRequests("pending", 100));
        EXPECT_THAT(ids(pending), ElementsAre("r5", "r4", "r2"));
        ASSIGN_OR_RETURN(auto two, tx.ListCeremonyRequests("pending", 2));
        EXPECT_THAT(ids(two), ElementsAre("r5", "r4"));
        ASSIGN_OR_RETURN(auto newest, tx.ListCeremonyRequests("", 1));
        EXPECT_THAT(ids(newest), ElementsAre("r5"));
        ASSIGN_OR_RETURN(auto executed,
                         tx.ListCeremonyRequests("executed", 100));
        EXPECT_THAT(ids(executed), ElementsAre("r3"));
        ASSIGN_OR_RETURN(auto cancelled,
                         tx.ListCeremonyRequests("cancelled", 100));
        EXPECT_THAT(cancelled,
                    ElementsAre(AllOf(
                        Field(&CeremonyRequestRecord::id, "r1"),
                        Field(&CeremonyRequestRecord::outcome, "withdrawn"))));
        EXPECT_THAT(tx.ListCeremonyRequests("failed", 100),
                    IsOkAndHolds(IsEmpty()));
        EXPECT_THAT(tx.ListCeremonyRequests("nonsense", 100),
                    IsOkAndHolds(IsEmpty()));
        EXPECT_THAT(tx.ListCeremonyRequests("", 0), IsOkAndHolds(IsEmpty()));
        EXPECT_THAT(tx.ListCeremonyRequests("", INT64_MAX),
                    IsOkAndHolds(testing::SizeIs(5)));
        EXPECT_THAT(tx.ListCeremonyRequests("", -1),
                    StatusIs(absl::StatusCode::kInvalidArgument));
        return absl::OkStatus();
      }),
      IsOk());
}

TEST_P(StoreContractTest, ClosesCeremonyRequestOnlyOnce) {
  ASSERT_THAT(Write([](Transaction& tx) -> absl::Status {
                RETURN_IF_ERROR(tx.InsertCeremonyRequest(Request("r1")));
                return tx.InsertCeremonyRequest(Request("r2"));
              }),
              IsOk());
  const absl::Time closed = kT0 + absl::Hours(2) + absl::Microseconds(7);
  ASSERT_THAT(Write([&](Transaction& tx) {
                return tx.CloseCeremonyRequest("r1", "executed", closed,
                                               "issued serial 01");
              }),
              IsOk());
  CeremonyRequestRecord executed = Request("r1");
  executed.state = "executed";
  executed.closed = closed;
  executed.outcome = "issued serial 01";
  for (absl::string_view state : {"executed", "cancelled", "failed"}) {
    EXPECT_THAT(
        Write([&](Transaction& tx) {
          return tx.CloseCeremonyRequest("r1", state, closed + absl::Hours(1),
                                         "again");
        }),
        StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("r1")));
  }
  ASSERT_THAT(Write([&](Transaction& tx) {
                return tx.CloseCeremonyRequest("r2", "failed", closed,
                                               "HSM unavailable");
              }),
              IsOk());
  ASSERT_THAT(Read([&](Transaction& tx) -> absl::Status {
                EXPECT_THAT(tx.GetCeremonyRequest("r1"),
                            IsOkAndHolds(RequestIs(executed)));
                ASSIGN_OR_RETURN(CeremonyRequestRecord r2,
                                 tx.GetCeremonyRequest("r2"));
                EXPECT_EQ(r2.state, "failed");
                EXPECT_EQ(r2.closed, closed);
                EXPECT_EQ(r2.outcome, "HSM unavailable");
                return absl::OkStatus();
              }),
              IsOk());
}

TEST_P(StoreContractTest, ClosingUnknownCeremonyRequestIsNotFound) {
  EXPECT_THAT(Write([](Transaction& tx) {
                return tx.CloseCeremonyRequest("nope", "cancelled", kT0, "");
              }),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("nope")));
}

TEST_P(StoreContractTest, ClosingWithBadStateIsInvalidArgument) {
  ASSERT_THAT(Write([](Transaction& tx) {
                return tx.InsertCeremonyRequest(Request("r1"));
              }),
              IsOk());
  for (absl::string_view state : {"pending", "", "Executed", "done"}) {
    SCOPED_TRACE(state);
    EXPECT_THAT(Write([&](Transaction& tx) {
                  return tx.CloseCeremonyRequest("r1", state, kT0, "x");
                }),
                StatusIs(absl::StatusCode::kInvalidArgument));
  }
  // Checked before the lookup.
  EXPECT_THAT(Write([](Transaction& tx) {
                return tx.CloseCeremonyRequest("nope", "done", kT0, "x");
              }),
              StatusIs(absl::StatusCode::kInvalidArgument));
  ASSERT_THAT(Read([](Transaction& tx) -> absl::Status {
                EXPECT_THAT(tx.GetCeremonyRequest("r1"),
                            IsOkAndHolds(RequestIs(Request("r1"))));
                return absl::OkStatus();
              }),
              IsOk());
}

// --- Approvals ------------------------------------------------------------

TEST_P(StoreContractTest, ListsApprovalsInTheOrderGiven) {
  // Neither by name nor by time: the order the store was told.
  ApprovalRecord zed = Approval("r1", "zed");
  zed.at = kT0 + absl::Hours(3);
  ApprovalRecord alice = Approval("r1", "alice");
  alice.at = kT0 + absl::Hours(1);
  alice.signature.clear();
  for (int i = 255; i >= 0; --i)
    alice.signature.push_back(static_cast<char>(i));
  ApprovalRecord mike = Approval("r1", "mike");
  mike.at = kT0 + absl::Hours(2);
  ASSERT_THAT(Write([&](Transaction& tx) -> absl::Status {
                for (const char* name : {"alice", "mike", "zed"}) {
                  RETURN_IF_ERROR(tx.InsertOperator(Operator(name)));
                }
                RETURN_IF_ERROR(tx.InsertCeremonyRequest(Request("r1")));
                RETURN_IF_ERROR(tx.InsertCeremonyRequest(Request("r2")));
                RETURN_IF_ERROR(tx.InsertApproval(zed));
                RETURN_IF_ERROR(tx.InsertApproval(Approval("r2", "mike")));
                return tx.InsertApproval(alice);
              }),
              IsOk());
  ASSERT_THAT(Write([&](Transaction& tx) { return tx.InsertApproval(mike); }),
              IsOk());
  ASSERT_THAT(
      Read([&](Transaction& tx) -> absl::Status {
        EXPECT_THAT(tx.ListApprovals("r1"),
                    IsOkAndHolds(ElementsAre(ApprovalIs(zed), ApprovalIs(alice),
                                             ApprovalIs(mike))));
        EXPECT_THAT(
            tx.ListApprovals("r2"),
            IsOkAndHolds(ElementsAre(ApprovalIs(Approval("r2", "mike")))));
        EXPECT_THAT(tx.ListApprovals("unknown"), IsOkAndHolds(IsEmpty()));
        return absl::OkStatus();
      }),
      IsOk());
}

TEST_P(StoreContractTest, DuplicateApprovalIsAlreadyExists) {
  ASSERT_THAT(Write([](Transaction& tx) -> absl::Status {
                RETURN_IF_ERROR(tx.InsertOperator(Operator("alice")));
                RETURN_IF_ERROR(tx.InsertCeremonyRequest(Request("r1")));
                RETURN_IF_ERROR(tx.InsertCeremonyRequest(Request("r2")));
                return tx.InsertApproval(Approval("r1", "alice"));
              }),
              IsOk());
  ApprovalRecord again = Approval("r1", "alice");
  again.signature = "a different signature";
  again.at = kT0 + absl::Hours(9);
  EXPECT_THAT(Write([&](Transaction& tx) { return tx.InsertApproval(again); }),
              StatusIs(absl::StatusCode::kAlreadyExists));
  // The same operator may approve another request.
  ASSERT_THAT(Write([](Transaction& tx) {
                return tx.InsertApproval(Approval("r2", "alice"));
              }),
              IsOk());
  ASSERT_THAT(
      Read([](Transaction& tx) -> absl::Status {
        EXPECT_THAT(
            tx.ListApprovals("r1"),
            IsOkAndHolds(ElementsAre(ApprovalIs(Approval("r1", "alice")))));
        return absl::OkStatus();
      }),
      IsOk());
}

TEST_P(StoreContractTest,
       ApprovalOfMissingRequestOrOperatorIsFailedPrecondition) {
  ASSERT_THAT(Write([](Transaction& tx) -> absl::Status {
                RETURN_IF_ERROR(tx.InsertOperator(Operator("alice")));
                return tx.InsertCeremonyRequest(Request("r1"));
              }),
              IsOk());
  EXPECT_THAT(Write([](Transaction& tx) {
                return tx.InsertApproval(Approval("r404", "alice"));
              }),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(Write([](Transaction& tx) {
                return tx.InsertApproval(Approval("r1", "mallory"));
              }),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  ASSERT_THAT(Read([](Transaction& tx) -> absl::Status {
                EXPECT_THAT(tx.ListApprovals("r1"), IsOkAndHolds(IsEmpty()));
                EXPECT_THAT(tx.ListApprovals("r404"), IsOkAndHolds(IsEmpty()));
                return absl::OkStatus();
              }),
              IsOk());
}

// --- Ceremony writes in transactions --------------------------------------

TEST_P(StoreContractTest, RollsBackCeremonyWritesWhenCallbackFails) {
  ASSERT_THAT(Write([](Transaction& tx) -> absl::Status {
                RETURN_IF_ERROR(tx.InsertOperator(Operator("alice")));
                RETURN_IF_ERROR(tx.InsertOperator(Operator("bob")));
                RETURN_IF_ERROR(tx.InsertCeremonyRequest(Request("r1")));
                return tx.InsertApproval(Approval("r1", "alice"));
              }),
              IsOk());

  absl::Status status = Write([](Transaction& tx) -> absl::Status {
    RETURN_IF_ERROR(tx.InsertOperator(Operator("carol")));
    RETURN_IF_ERROR(tx.SetOperatorActive("alice", false));
    RETURN_IF_ERROR(tx.InsertCeremonyRequest(Request("r2")));
    RETURN_IF_ERROR(tx.InsertApproval(Approval("r1", "bob")));
    RETURN_IF_ERROR(tx.InsertApproval(Approval("r2", "carol")));
    RETURN_IF_ERROR(tx.CloseCeremonyRequest("r1", "executed", kT0, "done"));
    return absl::AbortedError("caller gave up");
  });
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kAborted));

  ASSERT_THAT(
      Read([](Transaction& tx) -> absl::Status {
        EXPECT_THAT(tx.GetOperator("carol"),
                    StatusIs(absl::StatusCode::kNotFound));
        EXPECT_THAT(tx.GetOperator("alice"),
                    IsOkAndHolds(OperatorIs(Operator("alice"))));
        EXPECT_THAT(tx.ListOperators(), IsOkAndHolds(testing::SizeIs(2)));
        EXPECT_THAT(tx.GetCeremonyRequest("r2"),
                    StatusIs(absl::StatusCode::kNotFound));
        EXPECT_THAT(tx.GetCeremonyRequest("r1"),
                    IsOkAndHolds(RequestIs(Request("r1"))));
        EXPECT_THAT(tx.ListCeremonyRequests("", 10),
                    IsOkAndHolds(testing::SizeIs(1)));
        EXPECT_THAT(
            tx.ListApprovals("r1"),
            IsOkAndHolds(ElementsAre(ApprovalIs(Approval("r1", "alice")))));
        EXPECT_THAT(tx.ListApprovals("r2"), IsOkAndHolds(IsEmpty()));
        return absl::OkStatus();
      }),
      IsOk());

  // What was rolled back can be done again, and keeps its place in order.
  ASSERT_THAT(Write([](Transaction& tx) -> absl::Status {
                RETURN_IF_ERROR(tx.InsertOperator(Operator("carol")));
                RETURN_IF_ERROR(tx.InsertApproval(Approval("r1", "carol")));
                RETURN_IF_ERROR(tx.InsertApproval(Approval("r1", "bob")));
                return tx.CloseCeremonyRequest("r1", "executed", kT0, "done");
              }),
              IsOk());
  ASSERT_THAT(
      Read([](Transaction& tx) -> absl::Status {
        EXPECT_THAT(
            tx.ListApprovals("r1"),
            IsOkAndHolds(ElementsAre(ApprovalIs(Approval("r1", "alice")),
                                     ApprovalIs(Approval("r1", "carol")),
                                     ApprovalIs(Approval("r1", "bob")))));
        EXPECT_THAT(
            tx.GetCeremonyRequest("r1"),
            IsOkAndHolds(Field(&CeremonyRequestRecord::state, "executed")));
        return absl::OkStatus();
      }),
      IsOk());
}

TEST_P(StoreContractTest, ReadOnlyTransactionRefusesCeremonyWrites) {
  ASSERT_THAT(Write([](Transaction& tx) -> absl::Status {
                RETURN_IF_ERROR(tx.InsertOperator(Operator("alice")));
                return tx.InsertCeremonyRequest(Request("r1"));
              }),
              IsOk());
  ASSERT_THAT(Read([](Transaction& tx) -> absl::Status {
                constexpr auto kRefused = absl::StatusCode::kFailedPrecondition;
                EXPECT_THAT(tx.InsertOperator(Operator("bob")),
                            StatusIs(kRefused, HasSubstr("read-only")));
                EXPECT_THAT(tx.SetOperatorActive("alice", false),
                            StatusIs(kRefused, HasSubstr("read-only")));
                EXPECT_THAT(tx.InsertCeremonyRequest(Request("r2")),
                            StatusIs(kRefused, HasSubstr("read-only")));
                EXPECT_THAT(
                    tx.CloseCeremonyRequest("r1", "cancelled", kT0, "no"),
                    StatusIs(kRefused, HasSubstr("read-only")));
                EXPECT_THAT(tx.InsertApproval(Approval("r1", "alice")),
                            StatusIs(kRefused, HasSubstr("read-only")));
                // Reads still work.
                EXPECT_THAT(tx.GetOperator("alice"), IsOk());
                EXPECT_THAT(tx.ListCeremonyRequests("", 10), IsOk());
                return absl::OkStatus();
              }),
              IsOk());
  ASSERT_THAT(Read([](Transaction& tx) -> absl::Status {
                EXPECT_THAT(
                    tx.ListOperators(),
                    IsOkAndHolds(ElementsAre(OperatorIs(Operator("alice")))));
                EXPECT_THAT(tx.GetCeremonyRequest("r2"),
                            StatusIs(absl::StatusCode::kNotFound));
                EXPECT_THAT(tx.GetCeremonyRequest("r1"),
                            IsOkAndHolds(RequestIs(Request("r1"))));
                EXPECT_THAT(tx.ListApprovals("r1"), IsOkAndHolds(IsEmpty()));
                return absl::OkStatus();
              }),
              IsOk());
}

// --- Certificates ---------------------------------------------------------

TEST_P(StoreContractTest, CertificateRoundTripsExactly) {
  CertificateRecord cert = Certificate("0a1b2c", "cred1");
  cert.der.clear();
  for (int i = 0; i < 256; ++i) cert.der.push_back(static_cast<char>(i));
  cert.der += std::string(3, '\0');
  cert.not_before = kT0 - absl::Microseconds(1);
  cert.not_after = kT0 + absl::Hours(1) + absl::Microseconds(999999);
  cert.issued = kT0 + absl::Microseconds(7);
  CertificateRecord ca = Certificate("01", "");  // CA-internal
  ASSERT_THAT(Write([&](Transaction& tx) -> absl::Status {
                RETURN_IF_ERROR(tx.InsertCertificate(cert));
                return tx.InsertCertificate(ca);
              }),
              IsOk());
  ASSERT_THAT(
      Read([&](Transaction& tx) -> absl::Status {
        ASSIGN_OR_RETURN(CertificateRecord got, tx.GetCertificate("0a1b2c"));
        EXPECT_THAT(got, CertificateIs(cert));
        EXPECT_EQ(got.der.size(), 259u);
        EXPECT_FALSE(got.revoked);
        EXPECT_EQ(got.revoked_at, absl::Time());  // unset
        EXPECT_EQ(got.reason, 0);
        EXPECT_THAT(tx.GetCertificate("01"), IsOkAndHolds(CertificateIs(ca)));
        return absl::OkStatus();
      }),
      IsOk());
}

TEST_P(StoreContractTest, InsertsCertificateAsGiven) {
  // E.g. imported with its revocation already known.
  CertificateRecord cert = Certificate("ff", "cred1");
  cert.revoked = true;
  cert.revoked_at = kT0 + absl::Hours(3) + absl::Microseconds(5);
  cert.reason = 4;  // superseded
  ASSERT_THAT(
      Write([&](Transaction& tx) { return tx.InsertCertificate(cert); }),
      IsOk());
  ASSERT_THAT(Read([&](Transaction& tx) -> absl::Status {
                EXPECT_THAT(tx.GetCertificate("ff"),
                            IsOkAndHolds(CertificateIs(cert)));
                EXPECT_THAT(tx.ListRevokedCertificates(),
                            IsOkAndHolds(ElementsAre(CertificateIs(cert))));
                return absl::OkStatus();
              }),
              IsOk());
  EXPECT_THAT(
      Write([](Transaction& tx) { return tx.RevokeCertificate("ff", kT0, 1); }),
      StatusIs(absl::StatusCode::kFailedPrecondition));
  CertificateRecord bad = Certificate("fe", "cred1");
  bad.reason = 7;
  EXPECT_THAT(Write([&](Transaction& tx) { return tx.InsertCertificate(bad); }),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("fe")));
  ASSERT_THAT(
      Read([](Transaction& tx) { return tx.GetCertificate("fe").status(); }),
      StatusIs(absl::StatusCode::kNotFound));
}

TEST_P(StoreContractTest, DuplicateCertificateSerialIsAlreadyExists) {
  ASSERT_THAT(Write([](Transaction& tx) {
                return tx.InsertCertificate(Certificate("0c", "cred1"));
              }),
              IsOk());
  // Serials are never reused, not even for another credential.
  CertificateRecord other = Certificate("0c", "cred2", kT0 + absl::Hours(9));
  other.der = "different";
  EXPECT_THAT(
      Write([&](Transaction& tx) { return tx.InsertCertificate(other); }),
      StatusIs(absl::StatusCode::kAlreadyExists, HasSubstr("0c")));
  ASSERT_THAT(Read([](Transaction& tx) -> absl::Status {
                EXPECT_THAT(tx.ListCertificates(""),
                            IsOkAndHolds(ElementsAre(
                                CertificateIs(Certificate("0c", "cred1")))));
                EXPECT_THAT(tx.ListCertificates("cred2"),
                            IsOkAndHolds(IsEmpty()));
                return absl::OkStatus();
              }),
              IsOk());
}

TEST_P(StoreContractTest, MissingCertificateIsNotFound) {
  ASSERT_THAT(
      Read([](Transaction& tx) -> absl::Status {
        EXPECT_THAT(tx.GetCertificate("dead"),
                    StatusIs(absl::StatusCode::kNotFound, HasSubstr("dead")));
        EXPECT_THAT(tx.ListCertificates(""), IsOkAndHolds(IsEmpty()));
        EXPECT_THAT(tx.ListCertificates("cred1"), IsOkAndHolds(IsEmpty()));
        EXPECT_THAT(tx.ListRevokedCertificates(), IsOkAndHolds(IsEmpty()));
        return absl::OkStatus();
      }),
      IsOk());
  EXPECT_THAT(Write([](Transaction& tx) {
                return tx.RevokeCertificate("dead", kT0, 1);
              }),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("dead")));
}

TEST_P(StoreContractTest, ListsCertificatesByIssueTime) {
  ASSERT_THAT(Write([](Transaction& tx) -> absl::Status {
                // Inserted out of order; 05 and 04 were issued at the same time
                // (ties go by serial).
                RETURN_IF_ERROR(tx.InsertCertificate(
                    Certificate("02", "cred1", kT0 + absl::Seconds(2))));
                RETURN_IF_ERROR(tx.InsertCertificate(
                    Certificate("05", "cred2", kT0 + absl::Seconds(4))));
                RETURN_IF_ERROR(tx.InsertCertificate(
                    Certificate("01", "", kT0 + absl::Seconds(1))));
                RETURN_IF_ERROR(tx.InsertCertificate(
                    Certificate("03", "cred1", kT0 - absl::Seconds(3))));
                return tx.InsertCertificate(
                    Certificate("04", "cred1", kT0 + absl::Seconds(4)));
              }),
              IsOk());
  // Later, in another transaction, an older one.
  ASSERT_THAT(Write([](Transaction& tx) {
                return tx.InsertCertificate(
                    Certificate("0f", "cred2", kT0 - absl::Hours(1)));
              }),
              IsOk());
  ASSERT_THAT(
      Read([](Transaction& tx) -> absl::Status {
        ASSIGN_OR_RETURN(auto all, tx.ListCertificates(""));
        EXPECT_THAT(Serials(all),
                    ElementsAre("0f", "03", "01", "02", "04", "05"));
        ASSIGN_OR_RETURN(auto cred1, tx.ListCertificates("cred1"));
        EXPECT_THAT(Serials(cred1), ElementsAre("03", "02", "04"));
        EXPECT_THAT(cred1.back(), CertificateIs(Certificate(
                                      "04", "cred1", kT0 + absl::Seconds(4))));
        ASSIGN_OR_RETURN(auto cred2, tx.ListCertificates("cred2"));
        EXPECT_THAT(Serials(cred2), ElementsAre("0f", "05"));
        EXPECT_THAT(tx.ListCertificates("cred3"), IsOkAndHolds(IsEmpty()));
        return absl::OkStatus();
      }),
      IsOk());
  // Revoked ones are still listed, in the same place.
  ASSERT_THAT(Write([](Transaction& tx) {
                return tx.RevokeCertificate("02", kT0 + absl::Hours(1), 1);
              }),
              IsOk());
  ASSERT_THAT(Read([](Transaction& tx) -> absl::Status {
                ASSIGN_OR_RETURN(auto cred1, tx.ListCertificates("cred1"));
                EXPECT_THAT(Serials(cred1), ElementsAre("03", "02", "04"));
                EXPECT_THAT(cred1, testing::Contains(Field(
                                       &CertificateRecord::revoked, true)));
                return absl::OkStatus();
              }),
              IsOk());
}

TEST_P(StoreContractTest, RevokesCertificateOnlyOnce) {
  ASSERT_THAT(Write([](Transaction& tx) -> absl::Status {
                RETURN_IF_ERROR(tx.InsertCertificate(Certificate("0a", "c")));
                return tx.InsertCertificate(Certificate("0b", "c"));
              }),
              IsOk());
  const absl::Time at = kT0 + absl::Hours(2) + absl::Microseconds(7);
  ASSERT_THAT(Write([&](Transaction& tx) {
                return tx.RevokeCertificate("0a", at, 1);  // keyCompromise
              }),
              IsOk());
  CertificateRecord revoked = Certificate("0a", "c");
  revoked.revoked = true;
  revoked.revoked_at = at;
  revoked.reason = 1;
  for (int reason : {0, 1, 4}) {
    SCOPED_TRACE(reason);
    EXPECT_THAT(
        Write([&](Transaction& tx) {
          return tx.RevokeCertificate("0a", at + absl::Hours(1), reason);
        }),
        StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("0a")));
  }
  // Also when revoked earlier in the same transaction.
  EXPECT_THAT(Write([&](Transaction& tx) -> absl::Status {
                RETURN_IF_ERROR(tx.RevokeCertificate("0b", at, 5));
                return tx.RevokeCertificate("0b", at, 5);
              }),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  ASSERT_THAT(Read([&](Transaction& tx) -> absl::Status {
                EXPECT_THAT(tx.GetCertificate("0a"),
                            IsOkAndHolds(CertificateIs(revoked)));
                EXPECT_THAT(
                    tx.GetCertificate("0b"),
                    IsOkAndHolds(CertificateIs(Certificate("0b", "c"))));
                return absl::OkStatus();
              }),
              IsOk());
}

TEST_P(StoreContractTest, RevokingWithBadReasonIsInvalidArgument) {
  ASSERT_THAT(Write([](Transaction& tx) {
                return tx.InsertCertificate(Certificate("0a", "c"));
              }),
              IsOk());
  for (int reason : {-1, 7, 11, 255, INT32_MIN, INT32_MAX}) {
    SCOPED_TRACE(reason);
    EXPECT_THAT(Write([&](Transaction& tx) {
                  return tx.RevokeCertificate("0a", kT0, reason);
                }),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("0a")));
  }
  // Checked before the lookup.
  EXPECT_THAT(Write([](Transaction& tx) {
                return tx.RevokeCertificate("dead", kT0, 7);
              }),
              StatusIs(absl::StatusCode::kInvalidArgument));
  ASSERT_THAT(
      Read([](Transaction& tx) -> absl::Status {
        EXPECT_THAT(tx.GetCertificate("0a"),
                    IsOkAndHolds(CertificateIs(Certificate("0a", "c"))));
        EXPECT_THAT(tx.ListRevokedCertificates(), IsOkAndHolds(IsEmpty()));
        return absl::OkStatus();
      }),
      IsOk());
  // Every other RFC 5280 reason is accepted and kept.
  for (int reason : {0, 1, 2, 3, 4, 5, 6, 8, 9, 10}) {
    SCOPED_TRACE(reason);
    std::string serial = "1" + std::to_string(reason);
    ASSERT_THAT(
        Write([&](Transaction& tx) -> absl::Status {
          RETURN_IF_ERROR(tx.InsertCertificate(Certificate(serial, "c")));
          return tx.RevokeCertificate(serial, kT0, reason);
        }),
        IsOk());
    EXPECT_THAT(Read([&](Transaction& tx) -> absl::Status {
                  EXPECT_THAT(
                      tx.GetCertificate(serial),
                      IsOkAndHolds(Field(&CertificateRecord::reason, reason)));
                  return absl::OkStatus();
                }),
                IsOk());
  }
}

TEST_P(StoreContractTest, ListsRevokedCertificatesByRevocationTime) {
  ASSERT_THAT(
      Write([](Transaction& tx) -> absl::Status {
        for (const char* serial : {"01", "02", "03", "04", "05"}) {
          RETURN_IF_ERROR(tx.InsertCertificate(Certificate(serial, "c")));
        }
        return absl::OkStatus();
      }),
      IsOk());
  // Revoked out of issue and serial order; 05 and 02 at the same time (ties
  // go by serial); 03 stays valid.
  ASSERT_THAT(
      Write([](Transaction& tx) -> absl::Status {
        RETURN_IF_ERROR(tx.RevokeCertificate("04", kT0 + absl::Hours(3), 1));
        return tx.RevokeCertificate("05", kT0 + absl::Hours(2), 5);
      }),
      IsOk());
  ASSERT_THAT(
      Write([](Transaction& tx) -> absl::Status {
        RETURN_IF_ERROR(tx.RevokeCertificate("01", kT0 + absl::Hours(1), 0));
        return tx.RevokeCertificate("02", kT0 + absl::Hours(2), 4);
      }),
      IsOk());
  ASSERT_THAT(
      Read([](Transaction& tx) -> absl::Status {
        ASSIGN_OR_RETURN(auto revoked, tx.ListRevokedCertificates());
        EXPECT_THAT(Serials(revoked), ElementsAre("01", "02", "05", "04"));
        EXPECT_THAT(revoked,
                    testing::Each(Field(&CertificateRecord::revoked, true)));
        if (revoked.size() == 4) {
          EXPECT_EQ(revoked[3].revoked_at, kT0 + absl::Hours(3));
          EXPECT_EQ(revoked[3].reason, 1);
          EXPECT_EQ(revoked[3].der, Certificate("04", "c").der);
        }
        EXPECT_THAT(tx.ListCertificates("c"), IsOkAndHolds(testing::SizeIs(5)));
        return absl::OkStatus();
      }),
      IsOk());
}

TEST_P(StoreContractTest, RollsBackCertificateWritesWhenCallbackFails) {
  ASSERT_THAT(Write([](Transaction& tx) -> absl::Status {
                RETURN_IF_ERROR(tx.InsertCertificate(Certificate("0a", "c")));
                RETURN_IF_ERROR(tx.InsertCertificate(Certificate("0b", "c")));
                return tx.RevokeCertificate("0b", kT0, 1);
              }),
              IsOk());
  absl::Status status = Write([](Transaction& tx) -> absl::Status {
    RETURN_IF_ERROR(tx.InsertCertificate(Certificate("0c", "c")));
    RETURN_IF_ERROR(tx.RevokeCertificate("0a", kT0 + absl::Hours(1), 4));
    RETURN_IF_ERROR(tx.RevokeCertificate("0c", kT0 + absl::Hours(1), 5));
    EXPECT_THAT(tx.ListRevokedCertificates(), IsOkAndHolds(testing::SizeIs(3)));
    return absl::AbortedError("caller gave up");
  });
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kAborted));

  CertificateRecord b = Certificate("0b", "c");
  b.revoked = true;
  b.revoked_at = kT0;
  b.reason = 1;
  ASSERT_THAT(
      Read([&](Transaction& tx) -> absl::Status {
        EXPECT_THAT(tx.GetCertificate("0c"),
                    StatusIs(absl::StatusCode::kNotFound));
        EXPECT_THAT(tx.GetCertificate("0a"),
                    IsOkAndHolds(CertificateIs(Certificate("0a", "c"))));
        EXPECT_THAT(tx.ListCertificates(""), IsOkAndHolds(testing::SizeIs(2)));
        EXPECT_THAT(tx.ListRevokedCertificates(),
                    IsOkAndHolds(ElementsAre(CertificateIs(b))));
        return absl::OkStatus();
      }),
      IsOk());

  // What was rolled back can be done again.
  ASSERT_THAT(Write([](Transaction& tx) -> absl::Status {
                RETURN_IF_ERROR(tx.InsertCertificate(Certificate("0c", "c")));
                return tx.RevokeCertificate("0a", kT0 + absl::Hours(1), 4);
              }),
              IsOk());
  ASSERT_THAT(Read([](Transaction& tx) -> absl::Status {
                EXPECT_THAT(tx.GetCertificate("0c"), IsOk());
                ASSIGN_OR_RETURN(auto revoked, tx.ListRevokedCertificates());
                EXPECT_THAT(Serials(revoked), ElementsAre("0b", "0a"));
                return absl::OkStatus();
              }),
              IsOk());
}

TEST_P(StoreContractTest, ReadOnlyTransactionRefusesCertificateWrites) {
  ASSERT_THAT(Write([](Transaction& tx) {
                return tx.InsertCertificate(Certificate("0a", "c"));
              }),
              IsOk());
  ASSERT_THAT(Read([](Transaction& tx) -> absl::Status {
                constexpr auto kRefused = absl::StatusCode::kFailedPrecondition;
                EXPECT_THAT(tx.InsertCertificate(Certificate("0b", "c")),
                            StatusIs(kRefused, HasSubstr("read-only")));
                EXPECT_THAT(tx.RevokeCertificate("0a", kT0, 1),
                            StatusIs(kRefused, HasSubstr("read-only")));
                // Reads still work.
                EXPECT_THAT(tx.GetCertificate("0a"), IsOk());
                EXPECT_THAT(tx.ListCertificates(""), IsOk());
                EXPECT_THAT(tx.ListRevokedCertificates(), IsOk());
                return absl::OkStatus();
              }),
              IsOk());
  ASSERT_THAT(
      Read([](Transaction& tx) -> absl::Status {
        EXPECT_THAT(
            tx.ListCertificates(""),
            IsOkAndHolds(ElementsAre(CertificateIs(Certificate("0a", "c")))));
        EXPECT_THAT(tx.ListRevokedCertificates(), IsOkAndHolds(IsEmpty()));
        return absl::OkStatus();
      }),
      IsOk());
}

// --- Clients --------------------------------------------------------------

TEST_P(StoreContractTest, ClientRoundTripsExactly) {
  ClientRecord client = Client("app1");
  // Several URIs, kept in the order given (not sorted), with the separators a
  // naive encoding would split on; duplicates and an empty one kept too.
  client.redirect_uris = {
      "https://z.example/cb?a=1,b=2",
      "https://a.example/with space/and,comma",
      "app.custom:/cb;x=\"quoted\"\\back",
      "https://a.example/with space/and,comma",
      "",
      "line\nbreak\ttab",
  };
  client.created = kT0 + absl::Microseconds(7);
  ClientRecord pub = Client("public-app");
  pub.secret_hash = "";  // a public client (PKCE only)
  pub.redirect_uris.clear();
  pub.active = false;  // inserted already removed: kept as given
  ClientRecord one = Client("one");
  one.redirect_uris = {"https://one.example/,"};
  ASSERT_THAT(Write([&](Transaction& tx) -> absl::Status {
                RETURN_IF_ERROR(tx.InsertClient(client));
                RETURN_IF_ERROR(tx.InsertClient(pub));
                return tx.InsertClient(one);
              }),
              IsOk());
  ASSERT_THAT(
      Read([&](Transaction& tx) -> absl::Status {
        ASSIGN_OR_RETURN(ClientRecord got, tx.GetClient("app1"));
        EXPECT_THAT(got, ClientIs(client));
        EXPECT_THAT(
            got.redirect_uris,
            ElementsAre(client.redirect_uris[0], client.redirect_uris[1],
                        client.redirect_uris[2], client.redirect_uris[3], "",
                        client.redirect_uris[5]));
        EXPECT_EQ(got.created, kT0 + absl::Microseconds(7));
        EXPECT_THAT(tx.GetClient("public-app"), IsOkAndHolds(ClientIs(pub)));
        EXPECT_THAT(tx.GetClient("one"), IsOkAndHolds(ClientIs(one)));
        return absl::OkStatus();
      }),
      IsOk());
}

TEST_P(StoreContractTest, DuplicateClientIdIsAlreadyExists) {
  ASSERT_THAT(
      Write([](Transaction& tx) { return tx.InsertClient(Client("app1")); }),
      IsOk());
  ClientRecord other = Client("app1");
  other.name = "Impostor";
  other.redirect_uris = {"https://evil.example/cb"};
  EXPECT_THAT(Write([&](Transaction& tx) { return tx.InsertClient(other); }),
              StatusIs(absl::StatusCode::kAlreadyExists, HasSubstr("app1")));
  // Also when the caller handles the error and commits the rest: nothing of
  // the duplicate stays (not even its redirect URIs).
  ASSERT_THAT(Write([&](Transaction& tx) -> absl::Status {
                EXPECT_THAT(tx.InsertClient(other),
                            StatusIs(absl::StatusCode::kAlreadyExists));
                return tx.InsertClient(Client("app2"));
              }),
              IsOk());
  ASSERT_THAT(Read([](Transaction& tx) -> absl::Status {
                EXPECT_THAT(tx.GetClient("app1"),
                            IsOkAndHolds(ClientIs(Client("app1"))));
                EXPECT_THAT(tx.ListClients(), IsOkAndHolds(ElementsAre(
                                                  ClientIs(Client("app1")),
                                                  ClientIs(Client("app2")))));
                return absl::OkStatus();
              }),
              IsOk());
}

TEST_P(StoreContractTest, MissingClientIsNotFound) {
  ASSERT_THAT(Read([](Transaction& tx) -> absl::Status {
                EXPECT_THAT(
                    tx.GetClient("nobody"),
                    StatusIs(absl::StatusCode::kNotFound, HasSubstr("nobody")));
                EXPECT_THAT(tx.ListClients(), IsOkAndHolds(IsEmpty()));
                return absl::OkStatus();
              }),
              IsOk());
  EXPECT_THAT(Write([](Transaction& tx) {
                return tx.SetClientActive("nobody", false);
              }),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("nobody")));
}

TEST_P(StoreContractTest, ListsClientsByIdAndSetsActive) {
  ClientRecord b = Client("b-app");
  b.redirect_uris = {"https://b.example/2", "https://b.example/1"};
  ASSERT_THAT(Write([&](Transaction& tx) -> absl::Status {
                // Inserted out of order.
                RETURN_IF_ERROR(tx.InsertClient(Client("c-app")));
                RETURN_IF_ERROR(tx.InsertClient(Client("a-app")));
                return tx.InsertClient(b);
              }),
              IsOk());
  ASSERT_THAT(
      Write([](Transaction& tx) { return tx.SetClientActive("a-app", false); }),
      IsOk());
  ClientRecord a = Client("a-app");
  a.active = false;
  ASSERT_THAT(Read([&](Transaction& tx) -> absl::Status {
                // Removed clients are still listed, each with its own URIs.
                EXPECT_THAT(tx.ListClients(), IsOkAndHolds(ElementsAre(
                                                  ClientIs(a), ClientIs(b),
                                                  ClientIs(Client("c-app")))));
                EXPECT_THAT(tx.GetClient("a-app"), IsOkAndHolds(ClientIs(a)));
                return absl::OkStatus();
              }),
              IsOk());
  // Setting the flag it already has is not an error.
  ASSERT_THAT(
      Write([](Transaction& tx) { return tx.SetClientActive("a-app", false); }),
      IsOk());
  ASSERT_THAT(
      Write([](Transaction& tx) { return tx.SetClientActive("a-app", true); }),
      IsOk());
  ASSERT_THAT(Read([](Transaction& tx) -> absl::Status {
                EXPECT_THAT(tx.GetClient("a-app"),
                            IsOkAndHolds(ClientIs(Client("a-app"))));
                return absl::OkStatus();
              }),
              IsOk());
}

// --- Grants ---------------------------------------------------------------

TEST_P(StoreContractTest, GrantRoundTripsExactly) {
  int64_t alice = 0;
  GrantRecord sad;
  GrantRecord code;
  GrantRecord refresh;
  ASSERT_THAT(
      Write([&](Transaction& tx) -> absl::Status {
        ASSIGN_OR_RETURN(alice, tx.InsertUser(User("alice")));
        sad = Grant("5ad", alice, "sad");
        sad.client_id = "";
        sad.scope = "credential";
        sad.credential_id = "cred1";
        sad.hashes = "AAAA+/==,bbbb,zzzz";
        sad.uses_left = 3;
        sad.parent = "acce55";
        sad.created = kT0 + absl::Microseconds(7);
        sad.expires = kT0 + absl::Minutes(5) + absl::Microseconds(999999);
        code = Grant("c0de", alice, "code");
        code.uses_left = 1;
        code.data =
            "{\"code_challenge\":\"x\",\"redirect_uri\":\"https://a/cb\"}";
        refresh = Grant("ref", alice, "refresh");
        refresh.uses_left = -1;
        refresh.revoked = true;  // inserted as given
        refresh.expires = kT0 - absl::Microseconds(1);
        RETURN_IF_ERROR(tx.InsertGrant(sad));
        RETURN_IF_ERROR(tx.InsertGrant(code));
        RETURN_IF_ERROR(tx.InsertGrant(refresh));
        return tx.InsertGrant(Grant("acce55", alice));
      }),
      IsOk());
  ASSERT_THAT(Read([&](Transaction& tx) -> absl::Status {
                EXPECT_THAT(tx.GetGrant("5ad"), IsOkAndHolds(GrantIs(sad)));
                EXPECT_THAT(tx.GetGrant("c0de"), IsOkAndHolds(GrantIs(code)));
                EXPECT_THAT(tx.GetGrant("ref"), IsOkAndHolds(GrantIs(refresh)));
                EXPECT_THAT(tx.GetGrant("acce55"),
                            IsOkAndHolds(GrantIs(Grant("acce55", alice))));
                return absl::OkStatus();
              }),
              IsOk());
}

TEST_P(StoreContractTest, GrantInsertErrors) {
  int64_t alice = 0;
  ASSERT_THAT(Write([&](Transaction& tx) -> absl::Status {
                ASSIGN_OR_RETURN(alice, tx.InsertUser(User("alice")));
                return tx.InsertGrant(Grant("g1", alice));
              }),
              IsOk());
  // A taken id, even for another user and kind.
  GrantRecord other = Grant("g1", alice, "refresh");
  other.scope = "credential";
  EXPECT_THAT(Write([&](Transaction& tx) { return tx.InsertGrant(other); }),
              StatusIs(absl::StatusCode::kAlreadyExists, HasSubstr("g1")));
  // An unknown user.
  EXPECT_THAT(Write([&](Transaction& tx) {
                return tx.InsertGrant(Grant("g2", alice + 100));
              }),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  // A kind that is not one of the four, checked first.
  for (const char* kind : {"", "Access", "token", "sad ", "id"}) {
    SCOPED_TRACE(kind);
    EXPECT_THAT(Write([&](Transaction& tx) {
                  return tx.InsertGrant(Grant("g3", alice, kind));
                }),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("g3")));
  }
  EXPECT_THAT(Write([&](Transaction& tx) {
                return tx.InsertGrant(Grant("g1", alice + 100, "bogus"));
              }),
              StatusIs(absl::StatusCode::kInvalidArgument));
  ASSERT_THAT(
      Read([&](Transaction& tx) -> absl::Status {
        EXPECT_THAT(tx.GetGrant("g1"),
                    IsOkAndHolds(GrantIs(Grant("g1", alice))));
        EXPECT_THAT(tx.GetGrant("g2"), StatusIs(absl::StatusCode::kNotFound));
        EXPECT_THAT(tx.GetGrant("g3"), StatusIs(absl::StatusCode::kNotFound));
        return absl::OkStatus();
      }),
      IsOk());
  // Every kind of the four is accepted.
  ASSERT_THAT(Write([&](Transaction& tx) -> absl::Status {
                for (const char* kind : {"access", "refresh", "code", "sad"}) {
                  RETURN_IF_ERROR(tx.InsertGrant(
                      Grant(std::string("k-") + kind, alice, kind)));
                }
                return absl::OkStatus();
              }),
              IsOk());
}

TEST_P(StoreContractTest, MissingGrantIsNotFound) {
  ASSERT_THAT(Read([](Transaction& tx) -> absl::Status {
                EXPECT_THAT(
                    tx.GetGrant("dead"),
                    StatusIs(absl::StatusCode::kNotFound, HasSubstr("dead")));
                return absl::OkStatus();
              }),
              IsOk());
  EXPECT_THAT(Write([](Transaction& tx) {
                return tx.UpdateGrant("dead", 0, "", true);
              }),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("dead")));
  ASSERT_THAT(Write([](Transaction& tx) -> absl::Status {
                EXPECT_THAT(tx.RevokeGrantsWithParent("dead"),
                            IsOkAndHolds(Eq(0)));
                EXPECT_THAT(tx.DeleteExpiredGrants(absl::InfiniteFuture()),
                            IsOkAndHolds(Eq(0)));
                return absl::OkStatus();
              }),
              IsOk());
}

TEST_P(StoreContractTest, LowerGrantUsesKeepsTheHashes) {
  int64_t alice = 0;
  GrantRecord sad;
  ASSERT_THAT(Write([&](Transaction& tx) -> absl::Status {
                ASSIGN_OR_RETURN(alice, tx.InsertUser(User("alice")));
                sad = Grant("5ad", alice, "sad");
                sad.scope = "credential";
                sad.credential_id = "cred1";
                sad.hashes = "aaaa,bbbb,cccc";
                sad.uses_left = 3;
                RETURN_IF_ERROR(tx.InsertGrant(sad));
                return tx.InsertGrant(Grant("other", alice));
              }),
              IsOk());
  ASSERT_THAT(
      Write([](Transaction& tx) { return tx.LowerGrantUses("5ad", 2, false); }),
      IsOk());
  GrantRecord expected = sad;
  expected.uses_left = 2;
  ASSERT_THAT(Read([&](Transaction& tx) -> absl::Status {
                EXPECT_THAT(tx.GetGrant("5ad"),
                            IsOkAndHolds(GrantIs(expected)));
                EXPECT_THAT(tx.GetGrant("other"),
                            IsOkAndHolds(GrantIs(Grant("other", alice))));
                return absl::OkStatus();
              }),
              IsOk());
  // A failed transaction leaves the grant as it was; an unknown grant.
  EXPECT_THAT(Write([](Transaction& tx) -> absl::Status {
                RETURN_IF_ERROR(tx.LowerGrantUses("5ad", 1, true));
                return absl::AbortedError("roll back");
              }),
              StatusIs(absl::StatusCode::kAborted));
  EXPECT_THAT(Write([](Transaction& tx) {
                return tx.LowerGrantUses("nope", 1, false);
              }),
              StatusIs(absl::StatusCode::kNotFound));
  ASSERT_THAT(Read([&](Transaction& tx) -> absl::Status {
                EXPECT_THAT(tx.GetGrant("5ad"),
                            IsOkAndHolds(GrantIs(expected)));
                return absl::OkStatus();
              }),
              IsOk());
  // Used up; then the commit of an earlier request lands late: uses_left is
  // never raised and revoked never cleared.
  ASSERT_THAT(
      Write([](Transaction& tx) { return tx.LowerGrantUses("5ad", 0, true); }),
      IsOk());
  ASSERT_THAT(
      Write([](Transaction& tx) { return tx.LowerGrantUses("5ad", 1, false); }),
      IsOk());
  expected.uses_left = 0;
  expected.revoked = true;
  ASSERT_THAT(Read([&](Transaction& tx) -> absl::Status {
                EXPECT_THAT(tx.GetGrant("5ad"),
                            IsOkAndHolds(GrantIs(expected)));
                return absl::OkStatus();
              }),
              IsOk());
}

TEST_P(StoreContractTest, UpdateGrantChangesOnlyItsFields) {
  int64_t alice = 0;
  GrantRecord sad;
  ASSERT_THAT(Write([&](Transaction& tx) -> absl::Status {
                ASSIGN_OR_RETURN(alice, tx.InsertUser(User("alice")));
                sad = Grant("5ad", alice, "sad");
                sad.scope = "credential";
                sad.credential_id = "cred1";
                sad.hashes = "aaaa,bbbb,cccc";
                sad.uses_left = 3;
                sad.parent = "p";
                sad.data = "{\"x\":1}";
                RETURN_IF_ERROR(tx.InsertGrant(sad));
                return tx.InsertGrant(Grant("other", alice));
              }),
              IsOk());
  // Consuming the SAD one signature at a time.
  ASSERT_THAT(Write([](Transaction& tx) {
                return tx.UpdateGrant("5ad", 2, "aaaa,cccc", false);
              }),
              IsOk());
  GrantRecord expected = sad;
  expected.uses_left = 2;
  expected.hashes = "aaaa,cccc";
  ASSERT_THAT(Read([&](Transaction& tx) -> absl::Status {
                EXPECT_THAT(tx.GetGrant("5ad"),
                            IsOkAndHolds(GrantIs(expected)));
                EXPECT_THAT(tx.GetGrant("other"),
                            IsOkAndHolds(GrantIs(Grant("other", alice))));
                return absl::OkStatus();
              }),
              IsOk());
  ASSERT_THAT(
      Write([](Transaction& tx) { return tx.UpdateGrant("5ad", 0, "", true); }),
      IsOk());
  expected.uses_left = 0;
  expected.hashes = "";
  expected.revoked = true;
  ASSERT_THAT(Read([&](Transaction& tx) -> absl::Status {
                EXPECT_THAT(tx.GetGrant("5ad"),
                            IsOkAndHolds(GrantIs(expected)));
                return absl::OkStatus();
              }),
              IsOk());
  // It sets what it is given, -1 (unlimited) included.
  ASSERT_THAT(Write([](Transaction& tx) {
                return tx.UpdateGrant("other", -1, "h", false);
              }),
              IsOk());
  GrantRecord other = Grant("other", alice);
  other.uses_left = -1;
  other.hashes = "h";
  ASSERT_THAT(Read([&](Transaction& tx) -> absl::Status {
                EXPECT_THAT(tx.GetGrant("other"), IsOkAndHolds(GrantIs(other)));
                return absl::OkStatus();
              }),
              IsOk());
}

TEST_P(StoreContractTest, RevokesGrantsWithParent) {
  int64_t alice = 0;
  int64_t bob = 0;
  ASSERT_THAT(Write([&](Transaction& tx) -> absl::Status {
                ASSIGN_OR_RETURN(alice, tx.InsertUser(User("alice")));
                ASSIGN_OR_RETURN(bob, tx.InsertUser(User("bob")));
                RETURN_IF_ERROR(tx.InsertGrant(Grant("p1", alice, "refresh")));
                RETURN_IF_ERROR(tx.InsertGrant(Grant("p2", bob, "refresh")));
                GrantRecord a = Grant("a", alice);
                a.parent = "p1";
                GrantRecord b = Grant("b", alice, "sad");
                b.parent = "p1";
                GrantRecord c = Grant("c", bob);  // another user's child
                c.parent = "p1";
                GrantRecord gone = Grant("gone", alice);
                gone.parent = "p1";
                gone.revoked = true;  // revoked before: does not count
                GrantRecord grandchild = Grant("a.1", alice, "sad");
                grandchild.parent = "a";
                GrantRecord d = Grant("d", bob);
                d.parent = "p2";
                for (const GrantRecord& g : {a, b, c, gone, grandchild, d}) {
                  RETURN_IF_ERROR(tx.InsertGrant(g));
                }
                return absl::OkStatus();
              }),
              IsOk());
  ASSERT_THAT(
      Write([](Transaction& tx) -> absl::Status {
        EXPECT_THAT(tx.RevokeGrantsWithParent("p1"), IsOkAndHolds(Eq(3)));
        // Nothing left to change.
        EXPECT_THAT(tx.RevokeGrantsWithParent("p1"), IsOkAndHolds(Eq(0)));
        return absl::OkStatus();
      }),
      IsOk());
  ASSERT_THAT(Read([](Transaction& tx) -> absl::Status {
                for (const char* id : {"a", "b", "c", "gone"}) {
                  SCOPED_TRACE(id);
                  EXPECT_THAT(tx.GetGrant(id),
                              IsOkAndHolds(Field(&GrantRecord::revoked, true)));
                }
                // Only direct children: not the parent, not grandchildren,
                // not another parent's.
                for (const char* id : {"p1", "a.1", "p2", "d"}) {
                  SCOPED_TRACE(id);
                  EXPECT_THAT(
                      tx.GetGrant(id),
                      IsOkAndHolds(Field(&GrantRecord::revoked, false)));
                }
                return absl::OkStatus();
              }),
              IsOk());
  // An empty parent would name every grant without one.
  EXPECT_THAT(Write([](Transaction& tx) {
                return tx.RevokeGrantsWithParent("").status();
              }),
              StatusIs(absl::StatusCode::kInvalidArgument));
  ASSERT_THAT(Read([](Transaction& tx) -> absl::Status {
                EXPECT_THAT(tx.GetGrant("p1"),
                            IsOkAndHolds(Field(&GrantRecord::revoked, false)));
                return absl::OkStatus();
              }),
              IsOk());
  ASSERT_THAT(
      Write([](Transaction& tx) -> absl::Status {
        EXPECT_THAT(tx.RevokeGrantsWithParent("a"), IsOkAndHolds(Eq(1)));
        EXPECT_THAT(tx.RevokeGrantsWithParent("p2"), IsOkAndHolds(Eq(1)));
        return absl::OkStatus();
      }),
      IsOk());
}

TEST_P(StoreContractTest, DeletesGrantsThatExpiredBeforeNow) {
  const absl::Time now = kT0 + absl::Hours(10);
  int64_t alice = 0;
  ASSERT_THAT(Write([&](Transaction& tx) -> absl::Status {
                ASSIGN_OR_RETURN(alice, tx.InsertUser(User("alice")));
                auto expiring = [&](std::string id, absl::Time expires) {
                  GrantRecord grant = Grant(std::move(id), alice);
                  grant.created = kT0;
                  grant.expires = expires;
                  return grant;
                };
                RETURN_IF_ERROR(tx.InsertGrant(
                    expiring("long-ago", now - absl::Hours(24 * 365))));
                RETURN_IF_ERROR(tx.InsertGrant(
                    expiring("just-before", now - absl::Microseconds(1))));
                RETURN_IF_ERROR(tx.InsertGrant(expiring("at-now", now)));
                RETURN_IF_ERROR(tx.InsertGrant(
                    expiring("just-after", now + absl::Microseconds(1))));
                GrantRecord revoked = expiring("revoked", now + absl::Hours(1));
                revoked.revoked = true;  // revoked but not expired: kept
                return tx.InsertGrant(revoked);
              }),
              IsOk());
  ASSERT_THAT(Write([&](Transaction& tx) -> absl::Status {
                EXPECT_THAT(tx.DeleteExpiredGrants(now), IsOkAndHolds(Eq(2)));
                EXPECT_THAT(tx.DeleteExpiredGrants(now), IsOkAndHolds(Eq(0)));
                return absl::OkStatus();
              }),
              IsOk());
  ASSERT_THAT(Read([](Transaction& tx) -> absl::Status {
                for (const char* id : {"long-ago", "just-before"}) {
                  SCOPED_TRACE(id);
                  EXPECT_THAT(tx.GetGrant(id),
                              StatusIs(absl::StatusCode::kNotFound));
                }
                for (const char* id : {"at-now", "just-after", "revoked"}) {
                  SCOPED_TRACE(id);
                  EXPECT_THAT(tx.GetGrant(id), IsOk());
                }
                return absl::OkStatus();
              }),
              IsOk());
  // `now` finer than the stored microseconds: "before" is exact.
  ASSERT_THAT(Write([&](Transaction& tx) -> absl::Status {
                EXPECT_THAT(tx.DeleteExpiredGrants(now + absl::Nanoseconds(1)),
                            IsOkAndHolds(Eq(1)));
                EXPECT_THAT(tx.GetGrant("at-now"),
                            StatusIs(absl::StatusCode::kNotFound));
                EXPECT_THAT(tx.GetGrant("just-after"), IsOk());
                EXPECT_THAT(tx.DeleteExpiredGrants(absl::InfiniteFuture()),
                            IsOkAndHolds(Eq(2)));
                return absl::OkStatus();
              }),
              IsOk());
}

TEST_P(StoreContractTest, RollsBackGrantWritesWhenCallbackFails) {
  int64_t alice = 0;
  GrantRecord parent;
  GrantRecord child;
  GrantRecord old;
  ASSERT_THAT(Write([&](Transaction& tx) -> absl::Status {
                ASSIGN_OR_RETURN(alice, tx.InsertUser(User("alice")));
                parent = Grant("parent", alice, "refresh");
                child = Grant("child", alice);
                child.parent = "parent";
                old = Grant("old", alice, "sad");
                old.parent = "parent";
                old.hashes = "h1,h2";
                old.uses_left = 2;
                old.expires = kT0;
                RETURN_IF_ERROR(tx.InsertGrant(parent));
                RETURN_IF_ERROR(tx.InsertGrant(child));
                return tx.InsertGrant(old);
              }),
              IsOk());

  absl::Status status = Write([&](Transaction& tx) -> absl::Status {
    GrantRecord fresh = Grant("fresh", alice);
    fresh.parent = "parent";
    RETURN_IF_ERROR(tx.InsertGrant(fresh));
    RETURN_IF_ERROR(tx.UpdateGrant("old", 1, "h2", false));
    RETURN_IF_ERROR(tx.UpdateGrant("parent", 0, "", true));
    EXPECT_THAT(tx.RevokeGrantsWithParent("parent"), IsOkAndHolds(Eq(3)));
    // Deletes "old", changed twice above; then the rest, changed too.
    EXPECT_THAT(tx.DeleteExpiredGrants(kT0 + absl::Seconds(1)),
                IsOkAndHolds(Eq(1)));
    RETURN_IF_ERROR(tx.UpdateGrant("fresh", 5, "x", false));
    EXPECT_THAT(tx.DeleteExpiredGrants(absl::InfiniteFuture()),
                IsOkAndHolds(Eq(3)));
    EXPECT_THAT(tx.GetGrant("child"), StatusIs(absl::StatusCode::kNotFound));
    return absl::AbortedError("caller gave up");
  });
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kAborted));

  ASSERT_THAT(Read([&](Transaction& tx) -> absl::Status {
                EXPECT_THAT(tx.GetGrant("fresh"),
                            StatusIs(absl::StatusCode::kNotFound));
                EXPECT_THAT(tx.GetGrant("parent"),
                            IsOkAndHolds(GrantIs(parent)));
                EXPECT_THAT(tx.GetGrant("child"), IsOkAndHolds(GrantIs(child)));
                EXPECT_THAT(tx.GetGrant("old"), IsOkAndHolds(GrantIs(old)));
                return absl::OkStatus();
              }),
              IsOk());

  // What was rolled back can be done again.
  ASSERT_THAT(Write([&](Transaction& tx) -> absl::Status {
                RETURN_IF_ERROR(tx.InsertGrant(Grant("fresh", alice)));
                EXPECT_THAT(tx.RevokeGrantsWithParent("parent"),
                            IsOkAndHolds(Eq(2)));
                EXPECT_THAT(tx.DeleteExpiredGrants(kT0 + absl::Seconds(1)),
                            IsOkAndHolds(Eq(1)));
                return absl::OkStatus();
              }),
              IsOk());
  ASSERT_THAT(Read([&](Transaction& tx) -> absl::Status {
                EXPECT_THAT(tx.GetGrant("fresh"), IsOk());
                EXPECT_THAT(tx.GetGrant("old"),
                            StatusIs(absl::StatusCode::kNotFound));
                EXPECT_THAT(tx.GetGrant("child"),
                            IsOkAndHolds(Field(&GrantRecord::revoked, true)));
                return absl::OkStatus();
              }),
              IsOk());
}

// --- Possession factors ---------------------------------------------------

TEST_P(StoreContractTest, FactorRoundTripsAndPutReplaces) {
  int64_t alice = 0;
  FactorRecord totp;
  FactorRecord card;
  ASSERT_THAT(Write([&](Transaction& tx) -> absl::Status {
                ASSIGN_OR_RETURN(alice, tx.InsertUser(User("alice")));
                totp = Factor(alice, "totp");
                totp.created = kT0 + absl::Microseconds(7);
                card = Factor(alice, "card");
                card.certificate.clear();
                for (int i = 0; i < 256; ++i) {
                  card.certificate.push_back(static_cast<char>(i));
                }
                card.failed_tries = 2;
                card.locked = true;
                // Inserted out of kind order.
                RETURN_IF_ERROR(tx.PutFactor(totp));
                return tx.PutFactor(card);
              }),
              IsOk());
  ASSERT_THAT(
      Read([&](Transaction& tx) -> absl::Status {
        ASSIGN_OR_RETURN(FactorRecord got, tx.GetFactor(alice, "totp"));
        EXPECT_THAT(got, FactorIs(totp));
        EXPECT_EQ(got.last_step, -1);  // the default: none accepted
        EXPECT_EQ(got.secret.size(), 12u);
        EXPECT_THAT(tx.GetFactor(alice, "card"), IsOkAndHolds(FactorIs(card)));
        EXPECT_THAT(tx.ListFactors(alice),
                    IsOkAndHolds(ElementsAre(FactorIs(card), FactorIs(totp))));
        return absl::OkStatus();
      }),
      IsOk());
  // A new authenticator replaces the old one, every field.
  FactorRecord renewed = Factor(alice, "totp");
  renewed.secret = "another sealed secret";
  renewed.last_step = 12345;
  renewed.failed_tries = 1;
  renewed.locked = true;
  renewed.created = kT0 + absl::Hours(5) + absl::Microseconds(3);
  ASSERT_THAT(Write([&](Transaction& tx) { return tx.PutFactor(renewed); }),
              IsOk());
  ASSERT_THAT(Read([&](Transaction& tx) -> absl::Status {
                EXPECT_THAT(tx.GetFactor(alice, "totp"),
                            IsOkAndHolds(FactorIs(renewed)));
                EXPECT_THAT(tx.ListFactors(alice),
                            IsOkAndHolds(ElementsAre(FactorIs(card),
                                                     FactorIs(renewed))));
                return absl::OkStatus();
              }),
              IsOk());
}

TEST_P(StoreContractTest, FactorErrors) {
  int64_t alice = 0;
  ASSERT_THAT(Write([&](Transaction& tx) -> absl::Status {
                ASSIGN_OR_RETURN(alice, tx.InsertUser(User("alice")));
                return tx.PutFactor(Factor(alice, "totp"));
              }),
              IsOk());
  EXPECT_THAT(Write([&](Transaction& tx) {
                return tx.PutFactor(Factor(alice + 100, "totp"));
              }),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  for (const char* kind : {"", "sms", "TOTP", "card "}) {
    SCOPED_TRACE(kind);
    EXPECT_THAT(Write([&](Transaction& tx) {
                  return tx.PutFactor(Factor(alice, kind));
                }),
                StatusIs(absl::StatusCode::kInvalidArgument));
  }
  // The kind is checked first.
  EXPECT_THAT(Write([&](Transaction& tx) {
                return tx.PutFactor(Factor(alice + 100, "sms"));
              }),
              StatusIs(absl::StatusCode::kInvalidArgument));
  ASSERT_THAT(
      Read([&](Transaction& tx) -> absl::Status {
        EXPECT_THAT(tx.GetFactor(alice, "card"),
                    StatusIs(absl::StatusCode::kNotFound, HasSubstr("card")));
        EXPECT_THAT(tx.GetFactor(alice + 100, "totp"),
                    StatusIs(absl::StatusCode::kNotFound));
        EXPECT_THAT(tx.GetFactor(alice, "sms"),
                    StatusIs(absl::StatusCode::kNotFound));
        EXPECT_THAT(tx.ListFactors(alice),
                    IsOkAndHolds(ElementsAre(FactorIs(Factor(alice, "totp")))));
        EXPECT_THAT(tx.ListFactors(alice + 100), IsOkAndHolds(IsEmpty()));
        return absl::OkStatus();
      }),
      IsOk());
  EXPECT_THAT(Write([&](Transaction& tx) {
                return tx.UpdateFactorState(alice, "card", 1, 0, false);
              }),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(Write([&](Transaction& tx) {
                return tx.UpdateFactorState(alice + 100, "totp", 1, 0, false);
              }),
              StatusIs(absl::StatusCode::kNotFound));
}

TEST_P(StoreContractTest, UpdatesFactorState) {
  int64_t alice = 0;
  int64_t bob = 0;
  ASSERT_THAT(Write([&](Transaction& tx) -> absl::Status {
                ASSIGN_OR_RETURN(alice, tx.InsertUser(User("alice")));
                ASSIGN_OR_RETURN(bob, tx.InsertUser(User("bob")));
                RETURN_IF_ERROR(tx.PutFactor(Factor(alice, "totp")));
                RETURN_IF_ERROR(tx.PutFactor(Factor(alice, "card")));
                return tx.PutFactor(Factor(bob, "totp"));
              }),
              IsOk());
  ASSERT_THAT(Write([&](Transaction& tx) {
                return tx.UpdateFactorState(alice, "totp", 59958720, 3, true);
              }),
              IsOk());
  FactorRecord expected = Factor(alice, "totp");
  expected.last_step = 59958720;
  expected.failed_tries = 3;
  expected.locked = true;
  ASSERT_THAT(Read([&](Transaction& tx) -> absl::Status {
                EXPECT_THAT(tx.GetFactor(alice, "totp"),
                            IsOkAndHolds(FactorIs(expected)));
                EXPECT_THAT(tx.GetFactor(alice, "card"),
                            IsOkAndHolds(FactorIs(Factor(alice, "card"))));
                EXPECT_THAT(tx.GetFactor(bob, "totp"),
                            IsOkAndHolds(FactorIs(Factor(bob, "totp"))));
                return absl::OkStatus();
              }),
              IsOk());
  ASSERT_THAT(Write([&](Transaction& tx) {
                return tx.UpdateFactorState(alice, "totp", -1, 0, false);
              }),
              IsOk());
  ASSERT_THAT(Read([&](Transaction& tx) -> absl::Status {
                EXPECT_THAT(tx.GetFactor(alice, "totp"),
                            IsOkAndHolds(FactorIs(Factor(alice, "totp"))));
                return absl::OkStatus();
              }),
              IsOk());
}

// --- Client and factor writes in transactions -----------------------------

TEST_P(StoreContractTest, RollsBackClientAndFactorWritesWhenCallbackFails) {
  int64_t alice = 0;
  ASSERT_THAT(Write([&](Transaction& tx) -> absl::Status {
                ASSIGN_OR_RETURN(alice, tx.InsertUser(User("alice")));
                RETURN_IF_ERROR(tx.InsertClient(Client("app1")));
                return tx.PutFactor(Factor(alice, "totp"));
              }),
              IsOk());
  absl::Status status = Write([&](Transaction& tx) -> absl::Status {
    RETURN_IF_ERROR(tx.InsertClient(Client("app2")));
    RETURN_IF_ERROR(tx.SetClientActive("app1", false));
    RETURN_IF_ERROR(tx.UpdateFactorState(alice, "totp", 7, 1, false));
    FactorRecord replaced = Factor(alice, "totp");
    replaced.secret = "new";
    RETURN_IF_ERROR(tx.PutFactor(replaced));
    RETURN_IF_ERROR(tx.UpdateFactorState(alice, "totp", 8, 2, true));
    RETURN_IF_ERROR(tx.PutFactor(Factor(alice, "card")));
    RETURN_IF_ERROR(tx.UpdateFactorState(alice, "card", 0, 1, false));
    return absl::AbortedError("caller gave up");
  });
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kAborted));
  ASSERT_THAT(
      Read([&](Transaction& tx) -> absl::Status {
        EXPECT_THAT(tx.ListClients(),
                    IsOkAndHolds(ElementsAre(ClientIs(Client("app1")))));
        EXPECT_THAT(tx.ListFactors(alice),
                    IsOkAndHolds(ElementsAre(FactorIs(Factor(alice, "totp")))));
        return absl::OkStatus();
      }),
      IsOk());
  // What was rolled back can be done again.
  ASSERT_THAT(Write([&](Transaction& tx) -> absl::Status {
                RETURN_IF_ERROR(tx.InsertClient(Client("app2")));
                return tx.PutFactor(Factor(alice, "card"));
              }),
              IsOk());
  ASSERT_THAT(Read([&](Transaction& tx) -> absl::Status {
                EXPECT_THAT(tx.ListClients(), IsOkAndHolds(testing::SizeIs(2)));
                EXPECT_THAT(tx.ListFactors(alice),
                            IsOkAndHolds(testing::SizeIs(2)));
                return absl::OkStatus();
              }),
              IsOk());
}

TEST_P(StoreContractTest, ReadOnlyTransactionRefusesClientGrantFactorWrites) {
  int64_t alice = 0;
  ASSERT_THAT(Write([&](Transaction& tx) -> absl::Status {
                ASSIGN_OR_RETURN(alice, tx.InsertUser(User("alice")));
                RETURN_IF_ERROR(tx.InsertClient(Client("app1")));
                GrantRecord grant = Grant("g1", alice);
                grant.parent = "p";
                grant.expires = kT0;
                RETURN_IF_ERROR(tx.InsertGrant(grant));
                return tx.PutFactor(Factor(alice, "totp"));
              }),
              IsOk());
  ASSERT_THAT(Read([&](Transaction& tx) -> absl::Status {
                constexpr auto kRefused = absl::StatusCode::kFailedPrecondition;
                EXPECT_THAT(tx.InsertClient(Client("app2")),
                            StatusIs(kRefused, HasSubstr("read-only")));
                EXPECT_THAT(tx.SetClientActive("app1", false),
                            StatusIs(kRefused, HasSubstr("read-only")));
                EXPECT_THAT(tx.InsertGrant(Grant("g2", alice)),
                            StatusIs(kRefused, HasSubstr("read-only")));
                EXPECT_THAT(tx.UpdateGrant("g1", 0, "", true),
                            StatusIs(kRefused, HasSubstr("read-only")));
                EXPECT_THAT(tx.RevokeGrantsWithParent("p"),
                            StatusIs(kRefused, HasSubstr("read-only")));
                EXPECT_THAT(tx.DeleteExpiredGrants(absl::InfiniteFuture()),
                            StatusIs(kRefused, HasSubstr("read-only")));
                EXPECT_THAT(tx.PutFactor(Factor(alice, "card")),
                            StatusIs(kRefused, HasSubstr("read-only")));
                EXPECT_THAT(tx.UpdateFactorState(alice, "totp", 1, 1, true),
                            StatusIs(kRefused, HasSubstr("read-only")));
                // Reads still work.
                EXPECT_THAT(tx.GetClient("app1"), IsOk());
                EXPECT_THAT(tx.ListClients(), IsOk());
                EXPECT_THAT(tx.GetGrant("g1"), IsOk());
                EXPECT_THAT(tx.GetFactor(alice, "totp"), IsOk());
                EXPECT_THAT(tx.ListFactors(alice), IsOk());
                return absl::OkStatus();
              }),
              IsOk());
  ASSERT_THAT(
      Read([&](Transaction& tx) -> absl::Status {
        EXPECT_THAT(tx.ListClients(),
                    IsOkAndHolds(ElementsAre(ClientIs(Client("app1")))));
        EXPECT_THAT(tx.GetGrant("g1"),
                    IsOkAndHolds(Field(&GrantRecord::revoked, false)));
        EXPECT_THAT(tx.GetGrant("g2"), StatusIs(absl::StatusCode::kNotFound));
        EXPECT_THAT(tx.ListFactors(alice),
                    IsOkAndHolds(ElementsAre(FactorIs(Factor(alice, "totp")))));
        return absl::OkStatus();
      }),
      IsOk());
}

}  // namespace
}  // namespace inkan::storage
