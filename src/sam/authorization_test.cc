#include "sam/authorization.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <thread>

#include "audit/verifier.h"
#include "common/encoding.h"
#include "crypto/digest.h"
#include "crypto/signer.h"
#include "hsm/software_key_store.h"
#include "sam/totp.h"

namespace inkan::sam {
namespace {

using testing::HasSubstr;

class AuthorizationTest : public testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/inkan-authz-test-XXXXXX";
    auto keys = hsm::OpenSoftwareKeyStore(std::string(mkdtemp(tmpl)) + "/k");
    ASSERT_TRUE(keys.ok());
    keys_ = std::move(*keys);
    ASSERT_TRUE(keys_->Initialize().ok());
    store_ = storage::NewMemoryStore();
    log_ = std::make_unique<audit::AuditLog>(**keys_->AuditSigner(),
                                             "test/authz", clock_);
    creds_ =
        std::make_unique<CredentialService>(*store_, *keys_, *log_, clock_);
    ASSERT_TRUE(
        SetPolicy(*store_, *log_, "argon2.m_cost_kib", "1024", "t").ok());
    ASSERT_TRUE(SetPolicy(*store_, *log_, "argon2.t_cost", "1", "t").ok());
    auth_ = std::make_unique<AuthorizationService>(*store_, *log_, clock_,
                                                   *creds_, AuthOptions{});
    for (const char* u : {"erin", "frank"}) {
      ASSERT_TRUE(creds_->AddUser(u, Pin(), ctx_).ok());
      auto id = creds_->CreateCredential(u, crypto::KeyAlgorithm::kEcP256,
                                         {Pin(), SecretBytes()}, ctx_);
      ASSERT_TRUE(id.ok()) << id.status();
      cred_[u] = *id;
      ASSERT_TRUE(SetScal(*store_, *log_, *id, 1, ctx_).ok());
      auto uri = creds_->EnrollTotp(u, Pin(), "inkan", ctx_);
      ASSERT_TRUE(uri.ok()) << uri.status();
      std::string b32 = uri->substr(uri->find("secret=") + 7);
      b32 = b32.substr(0, b32.find('&'));
      secret_[u] = *Base32Decode(b32);
      auto token = auth_->Login(u, Pin(), "app", ctx_);
      ASSERT_TRUE(token.ok()) << token.status();
      auto caller = auth_->Authenticate(token->secret);
      ASSERT_TRUE(caller.ok());
      caller_[u] = *caller;
    }
  }

  static SecretBytes Pin() { return SecretBytes(std::string("135790")); }
  std::string Code(const std::string& user, int step_offset = 0) {
    return *TotpCode(secret_[user], TotpParams{},
                     clock_.Now() + absl::Seconds(30) * step_offset);
  }
  static std::string H(absl::string_view s) { return crypto::Sha256(s); }

  absl::StatusOr<IssuedSecret> Authorize(const std::string& user,
                                         std::vector<std::string> hashes,
                                         int step_offset = 0) {
    return auth_->AuthorizeCredential(
        caller_[user], cred_[user], hashes, crypto::HashAlgorithm::kSha256,
        static_cast<int>(hashes.size()), Pin(), Code(user, step_offset), ctx_);
  }
  absl::StatusOr<std::vector<std::string>> Sign(const std::string& user,
                                                const std::string& sad,
                                                std::vector<std::string> h) {
    return auth_->SignHashes(caller_[user], cred_[user], sad, h, kScheme, ctx_);
  }

  const crypto::SignatureScheme kScheme{crypto::KeyAlgorithm::kEcP256,
                                        crypto::HashAlgorithm::kSha256};
  FakeClock clock_;
  Context ctx_{"test"};
  std::unique_ptr<hsm::KeyStore> keys_;
  std::unique_ptr<storage::Store> store_;
  std::unique_ptr<audit::AuditLog> log_;
  std::unique_ptr<CredentialService> creds_;
  std::unique_ptr<AuthorizationService> auth_;
  std::map<std::string, std::string> cred_;
  std::map<std::string, SecretBytes> secret_;
  std::map<std::string, Caller> caller_;
};

TEST_F(AuthorizationTest, ASadSignsEachOfItsHashesOnceAndNothingElse) {
  auto sad = Authorize("erin", {H("a"), H("b")});
  ASSERT_TRUE(sad.ok()) << sad.status();
  EXPECT_EQ(auth_->active_sads(), 1u);
  auto sig = Sign("erin", sad->secret, {H("a")});
  ASSERT_TRUE(sig.ok()) << sig.status();
  storage::CredentialRecord cred;
  ASSERT_TRUE(store_
                  ->Transact(storage::TxMode::kReadOnly,
                             [&](storage::Transaction& tx) {
                               cred = *tx.GetCredential(cred_["erin"]);
                               return absl::OkStatus();
                             })
                  .ok());
  auto verifier = crypto::NewVerifier(cred.public_key, kScheme);
  EXPECT_TRUE((*verifier)->VerifyDigest(H("a"), (*sig)[0]).ok());

  EXPECT_TRUE(absl::IsOutOfRange(Sign("erin", sad->secret, {H("a")}).status()));
  EXPECT_TRUE(absl::IsOutOfRange(Sign("erin", sad->secret, {H("c")}).status()));
  // Asking for a known and an unknown hash consumes neither.
  EXPECT_TRUE(
      absl::IsOutOfRange(Sign("erin", sad->secret, {H("b"), H("c")}).status()));
  EXPECT_TRUE(Sign("erin", sad->secret, {H("b")}).ok());
  // Used up: gone.
  EXPECT_TRUE(
      absl::IsInvalidArgument(Sign("erin", sad->secret, {H("b")}).status()));
  EXPECT_EQ(auth_->active_sads(), 0u);
}

TEST_F(AuthorizationTest, ASadServesOnlyItsUserClientAndCredential) {
  auto sad = Authorize("erin", {H("a")});
  ASSERT_TRUE(sad.ok());
  // Another user, with their own credential or erin's.
  EXPECT_TRUE(
      absl::IsInvalidArgument(Sign("frank", sad->secret, {H("a")}).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(
      auth_
          ->SignHashes(caller_["frank"], cred_["erin"], sad->secret, {H("a")},
                       kScheme, ctx_)
          .status()));
  // The same user through another client.
  Caller other = caller_["erin"];
  other.client_id = "another-app";
  EXPECT_TRUE(absl::IsInvalidArgument(auth_
                                          ->SignHashes(other, cred_["erin"],
                                                       sad->secret, {H("a")},
                                                       kScheme, ctx_)
                                          .status()));
  // Another hash algorithm than the one authorized.
  EXPECT_TRUE(absl::IsInvalidArgument(
      auth_
          ->SignHashes(
              caller_["erin"], cred_["erin"], sad->secret,
              {crypto::Sha256("x") + std::string(16, 'x')},
              {crypto::KeyAlgorithm::kEcP256, crypto::HashAlgorithm::kSha384},
              ctx_)
          .status()));
  // After all that, the rightful caller still has the hash.
  EXPECT_TRUE(Sign("erin", sad->secret, {H("a")}).ok());
}

TEST_F(AuthorizationTest, SadKeyAlgorithmOnlyForItsCallerAndCredential) {
  auto sad = Authorize("erin", {H("a"), H("b")});
  ASSERT_TRUE(sad.ok());
  auto alg =
      auth_->SadKeyAlgorithm(caller_["erin"], cred_["erin"], sad->secret);
  ASSERT_TRUE(alg.ok()) << alg.status();
  EXPECT_EQ(*alg, crypto::KeyAlgorithm::kEcP256);
  // Another user, another client, another credential, an unknown SAD: no
  // answer (the handler then reads the credential and reports exactly).
  EXPECT_TRUE(absl::IsInvalidArgument(
      auth_->SadKeyAlgorithm(caller_["frank"], cred_["erin"], sad->secret)
          .status()));
  EXPECT_TRUE(absl::IsInvalidArgument(
      auth_->SadKeyAlgorithm(caller_["frank"], cred_["frank"], sad->secret)
          .status()));
  Caller other = caller_["erin"];
  other.client_id = "another-app";
  EXPECT_TRUE(absl::IsInvalidArgument(
      auth_->SadKeyAlgorithm(other, cred_["erin"], sad->secret).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(
      auth_->SadKeyAlgorithm(caller_["erin"], cred_["frank"], sad->secret)
          .status()));
  EXPECT_TRUE(absl::IsInvalidArgument(
      auth_->SadKeyAlgorithm(caller_["erin"], cred_["erin"], "nope").status()));
  // Expired.
  clock_.Advance(absl::Minutes(5));
  EXPECT_TRUE(absl::IsInvalidArgument(
      auth_->SadKeyAlgorithm(caller_["erin"], cred_["erin"], sad->secret)
          .status()));
}

TEST_F(AuthorizationTest, SigningCountsDownTheGrantAndKeepsItsHashes) {
  auto sad = Authorize("erin", {H("a"), H("b"), H("c")});
  ASSERT_TRUE(sad.ok());
  auto grant = [&] {
    storage::GrantRecord g;
    EXPECT_TRUE(store_
                    ->Transact(storage::TxMode::kReadOnly,
                               [&](storage::Transaction& tx) {
                                 g = *tx.GetGrant(
                                     HexEncode(crypto::Sha256(sad->secret)));
                                 return absl::OkStatus();
                               })
                    .ok());
    return g;
  };
  const std::string authorized = grant().hashes;
  EXPECT_EQ(authorized, CanonicalHashes({H("a"), H("b"), H("c")}));
  ASSERT_TRUE(Sign("erin", sad->secret, {H("b")}).ok());
  EXPECT_EQ(grant().uses_left, 2);
  EXPECT_EQ(grant().hashes, authorized);
  EXPECT_FALSE(grant().revoked);
  // A refused request changes nothing.
  EXPECT_FALSE(Sign("erin", sad->secret, {H("b")}).ok());
  EXPECT_EQ(grant().uses_left, 2);
  ASSERT_TRUE(Sign("erin", sad->secret, {H("a"), H("c")}).ok());
  EXPECT_EQ(grant().uses_left, 0);
  EXPECT_EQ(grant().hashes, authorized);
  EXPECT_TRUE(grant().revoked);
}

TEST_F(AuthorizationTest, ASadExpires) {
  auto sad = Authorize("erin", {H("a")});
  ASSERT_TRUE(sad.ok());
  EXPECT_EQ(sad->expires, clock_.Now() + absl::Minutes(5));
  clock_.Advance(absl::Minutes(5));
  auto late = Sign("erin", sad->secret, {H("a")});
  EXPECT_TRUE(absl::IsFailedPrecondition(late.status())) << late.status();
  EXPECT_THAT(late.status().message(), HasSubstr("SAD expired"));
  EXPECT_EQ(auth_->active_sads(), 0u);
}

TEST_F(AuthorizationTest, ConcurrentRequestsSignEachHashExactlyOnce) {
  std::vector<std::string> hashes;
  for (int i = 0; i < 40; ++i) hashes.push_back(H(std::to_string(i)));
  auto sad = Authorize("erin", hashes);
  ASSERT_TRUE(sad.ok());
  std::atomic<int> signed_count{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&] {
      for (const auto& h : hashes) {
        if (Sign("erin", sad->secret, {h}).ok()) ++signed_count;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(signed_count.load(), 40);
  int signature_events = 0;
  ASSERT_TRUE(store_
                  ->Transact(storage::TxMode::kReadOnly,
                             [&](storage::Transaction& tx) {
                               auto rows = tx.ReadAuditEntries(1, 100000);
                               for (const auto& r : *rows) {
                                 auto e = audit::ParseEntry(r.entry);
                                 if (e.ok() && e->type == "signature")
                                   ++signature_events;
                               }
                               return absl::OkStatus();
                             })
                  .ok());
  EXPECT_EQ(signature_events, 40);
  auto verifier =
      crypto::NewVerifier((**keys_->AuditSigner()).public_key_der(), kScheme);
  bool intact = false;
  ASSERT_TRUE(store_
                  ->Transact(storage::TxMode::kReadOnly,
                             [&](storage::Transaction& tx) {
                               auto r = audit::VerifyLog(tx, **verifier,
                                                         "test/authz");
                               intact = r.ok() && r->ok;
                               return absl::OkStatus();
                             })
                  .ok());
  EXPECT_TRUE(intact);
}

TEST_F(AuthorizationTest, FactorsAreCheckedEachUnderItsBudgetAndTagged) {
  auto wrong_otp = auth_->AuthorizeCredential(
      caller_["erin"], cred_["erin"], {H("a")}, crypto::HashAlgorithm::kSha256,
      1, Pin(), "000000", ctx_);
  EXPECT_TRUE(absl::IsUnauthenticated(wrong_otp.status()));
  EXPECT_EQ(std::string(*wrong_otp.status().GetPayload(kFactorPayload)), "otp");
  auto wrong_pin = auth_->AuthorizeCredential(
      caller_["erin"], cred_["erin"], {H("a")}, crypto::HashAlgorithm::kSha256,
      1, SecretBytes(std::string("999999")), Code("erin"), ctx_);
  EXPECT_TRUE(absl::IsUnauthenticated(wrong_pin.status()));
  EXPECT_EQ(std::string(*wrong_pin.status().GetPayload(kFactorPayload)), "pin");
  // The code of that attempt was used: replaying it fails as a code.
  auto replay = Authorize("erin", {H("a")}, 0);
  EXPECT_TRUE(absl::IsUnauthenticated(replay.status()));
  EXPECT_THAT(replay.status().message(), HasSubstr("already used"));
  EXPECT_TRUE(Authorize("erin", {H("a")}, 1).ok());
}

TEST_F(AuthorizationTest, ScalTwoCountsAndTokensAreEnforced) {
  ASSERT_TRUE(SetScal(*store_, *log_, cred_["erin"], 2, ctx_).ok());
  EXPECT_TRUE(absl::IsPermissionDenied(Authorize("erin", {H("a")}).status()));
  ASSERT_TRUE(SetScal(*store_, *log_, cred_["erin"], 1, ctx_).ok());
  EXPECT_TRUE(absl::IsNotFound(
      auth_
          ->AuthorizeCredential(caller_["frank"], cred_["erin"], {H("a")},
                                crypto::HashAlgorithm::kSha256, 1, Pin(),
                                Code("frank"), ctx_)
          .status()));
  EXPECT_TRUE(absl::IsInvalidArgument(
      auth_
          ->AuthorizeCredential(caller_["erin"], cred_["erin"], {H("a")},
                                crypto::HashAlgorithm::kSha256, 2, Pin(),
                                Code("erin"), ctx_)
          .status()));
  auto token = auth_->Login("erin", Pin(), "", ctx_);
  ASSERT_TRUE(token.ok());
  clock_.Advance(absl::Hours(1));
  EXPECT_TRUE(
      absl::IsUnauthenticated(auth_->Authenticate(token->secret).status()));
  EXPECT_TRUE(absl::IsUnauthenticated(auth_->Authenticate("nope").status()));
}

TEST_F(AuthorizationTest, RedirectUrisMatchExactlyExceptALoopbackPort) {
  storage::ClientRecord c;
  c.client_id = "native";
  c.redirect_uris = {"http://127.0.0.1/cb", "http://localhost/cb",
                     "https://app.example.jp/cb"};
  c.created = clock_.Now();
  ASSERT_TRUE(AddClient(*store_, *log_, c, ctx_).ok());
  auto check = [&](std::string uri) {
    return auth_->CheckClient("native", &uri).ok();
  };
  EXPECT_TRUE(check("https://app.example.jp/cb"));
  EXPECT_FALSE(check("https://app.example.jp/cb/"));
  EXPECT_FALSE(check("https://app.example.jp:8443/cb"));
  EXPECT_TRUE(check("http://127.0.0.1/cb"));
  EXPECT_TRUE(check("http://127.0.0.1:54321/cb"));  // RFC 8252 §7.3
  EXPECT_FALSE(check("http://127.0.0.1:54321/cb2"));
  EXPECT_FALSE(check("http://127.0.0.1:54321/cb?x=1"));
  EXPECT_FALSE(check("http://127.0.0.1:0/cb"));
  EXPECT_FALSE(check("http://127.0.0.1:99999/cb"));
  EXPECT_FALSE(check("http://127.0.0.1:80@evil.example/cb"));
  EXPECT_FALSE(check("http://localhost:54321/cb"));  // not for names (§8.3)
  std::string none;
  EXPECT_FALSE(auth_->CheckClient("native", &none).ok());  // several registered
  std::string any = "https://app.example.jp/cb";
  EXPECT_TRUE(absl::IsNotFound(auth_->CheckClient("nobody", &any).status()));
  // Bad registrations.
  c.client_id = "web";
  c.redirect_uris = {"http://app.example.jp/cb"};
  EXPECT_TRUE(absl::IsInvalidArgument(AddClient(*store_, *log_, c, ctx_)));
  c.redirect_uris = {"https://app.example.jp/cb#frag"};
  EXPECT_TRUE(absl::IsInvalidArgument(AddClient(*store_, *log_, c, ctx_)));
}

TEST_F(AuthorizationTest, AConfidentialClientMustGiveItsSecret) {
  storage::ClientRecord c;
  c.client_id = "backend";
  c.redirect_uris = {"https://app.example.jp/cb"};
  c.secret_hash = HexEncode(crypto::Sha256("s3cret"));
  c.created = clock_.Now();
  ASSERT_TRUE(AddClient(*store_, *log_, c, ctx_).ok());
  EXPECT_TRUE(absl::IsPermissionDenied(
      auth_->RevokeForClient("backend", std::nullopt, "tok", ctx_)));
  EXPECT_TRUE(absl::IsPermissionDenied(
      auth_->RevokeForClient("backend", std::string("wrong"), "tok", ctx_)));
  EXPECT_TRUE(absl::IsPermissionDenied(
      auth_->RevokeForClient("nobody", std::string("s3cret"), "tok", ctx_)));
  // The right secret: an unknown token is answered as done (RFC 7009).
  EXPECT_TRUE(
      auth_->RevokeForClient("backend", std::string("s3cret"), "tok", ctx_)
          .ok());
  // It cannot revoke a token issued to someone else.
  auto token = auth_->Login("erin", Pin(), "app", ctx_);
  ASSERT_TRUE(token.ok());
  EXPECT_TRUE(auth_
                  ->RevokeForClient("backend", std::string("s3cret"),
                                    token->secret, ctx_)
                  .ok());
  EXPECT_TRUE(auth_->Authenticate(token->secret).ok());
}

}  // namespace
}  // namespace inkan::sam
