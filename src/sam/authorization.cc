#include "sam/authorization.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/cord.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "audit/audit_log.h"
#include "audit/canonical_json.h"
#include "common/encoding.h"
#include "common/random.h"
#include "common/status_macros.h"
#include "crypto/digest.h"

namespace inkan::sam {
namespace {

using audit::Event;

std::string ScalKey(absl::string_view credential_id) {
  return absl::StrCat("credential.", credential_id, ".scal");
}

// A fresh bearer secret and its grant id.
absl::StatusOr<std::pair<std::string, std::string>> NewSecret() {
  ASSIGN_OR_RETURN(std::string raw, RandomBytes(32));
  std::string secret = Base64UrlEncode(raw);
  CleanseMemory(raw.data(), raw.size());
  return std::make_pair(secret, HexEncode(crypto::Sha256(secret)));
}

std::string GrantId(absl::string_view secret) {
  return HexEncode(crypto::Sha256(secret));
}

// Marks a factor's error with the factor it concerns (kFactorPayload).
absl::Status TagFactor(absl::Status st, absl::string_view factor) {
  if (!st.ok()) st.SetPayload(kFactorPayload, absl::Cord(factor));
  return st;
}

// A confidential client must give its secret (compared as SHA-256, in
// constant time); a public client has none to give.
absl::Status CheckClientSecret(const storage::ClientRecord& client,
                               const std::optional<std::string>& secret) {
  if (client.secret_hash.empty()) return absl::OkStatus();
  std::string given = secret ? HexEncode(crypto::Sha256(*secret)) : "";
  if (!SecretBytes(given).ConstantTimeEquals(SecretBytes(client.secret_hash))) {
    return absl::PermissionDeniedError("client authentication failed");
  }
  return absl::OkStatus();
}

}  // namespace

std::string CanonicalHashes(const std::set<std::string>& digests) {
  std::vector<std::string> b64;
  for (const auto& d : digests) b64.push_back(Base64Encode(d));
  std::sort(b64.begin(), b64.end());
  return absl::StrJoin(b64, ",");
}

std::string CardChallengeMessage(absl::string_view challenge_b64,
                                 absl::string_view credential_id,
                                 const std::set<std::string>& digests) {
  return absl::StrCat("inkan.card.v1\n", challenge_b64, "\n", credential_id,
                      "\n", CanonicalHashes(digests));
}

absl::StatusOr<int> LoadScal(storage::Transaction& tx,
                             absl::string_view credential_id) {
  ASSIGN_OR_RETURN(std::optional<std::string> v,
                   tx.GetMeta(ScalKey(credential_id)));
  int scal = 2;
  if (v && (!absl::SimpleAtoi(*v, &scal) || (scal != 1 && scal != 2))) {
    return absl::DataLossError("stored SCAL is unusable");
  }
  return scal;
}

absl::Status SetScal(storage::Store& store, const audit::AuditLog& log,
                     absl::string_view credential_id, int scal,
                     const Context& ctx) {
  if (scal != 1 && scal != 2)
    return absl::InvalidArgumentError("SCAL is 1 or 2");
  return audit::RunAudited(
      store, log, [&](storage::Transaction& tx) -> absl::Status {
        RETURN_IF_ERROR(tx.GetCredential(credential_id).status());
        RETURN_IF_ERROR(tx.PutMeta(ScalKey(credential_id), absl::StrCat(scal)));
        return log.Append(tx, Event{"credential.scal",
                                    {{"actor", ctx.actor},
                                     {"credential", std::string(credential_id)},
                                     {"scal", int64_t{scal}}}});
      });
}

absl::Status AddClient(storage::Store& store, const audit::AuditLog& log,
                       const storage::ClientRecord& client,
                       const Context& ctx) {
  if (client.client_id.empty() || client.client_id.size() > 128 ||
      !std::all_of(
          client.client_id.begin(), client.client_id.end(), [](char c) {
            return absl::ascii_isalnum(c) || c == '-' || c == '_' || c == '.';
          })) {
    return absl::InvalidArgumentError(
        "a client id is 1..128 letters, digits, '-', '_' or '.'");
  }
  if (client.redirect_uris.empty()) {
    return absl::InvalidArgumentError("give at least one --redirect-uri");
  }
  for (const auto& uri : client.redirect_uris) {
    bool https = absl::StartsWith(uri, "https://");
    bool loopback = absl::StartsWith(uri, "http://127.0.0.1") ||
                    absl::StartsWith(uri, "http://[::1]") ||
                    absl::StartsWith(uri, "http://localhost");
    if ((!https && !loopback) || absl::StrContains(uri, "#") ||
        uri.size() > 2083) {
      return absl::InvalidArgumentError(absl::StrCat(
          "redirect URI ", uri,
          " must be https://, or http:// on a loopback address, without a "
          "fragment"));
    }
  }
  return audit::RunAudited(store, log, [&](storage::Transaction& tx) {
    RETURN_IF_ERROR(tx.InsertClient(client));
    return log.Append(
        tx, Event{"client.add",
                  {{"actor", ctx.actor},
                   {"client", client.client_id},
                   {"redirect_uris", absl::StrJoin(client.redirect_uris, " ")},
                   {"confidential", !client.secret_hash.empty()}}});
  });
}

AuthorizationService::~AuthorizationService() {
  absl::MutexLock lock(&mu_);
  sads_.clear();  // destroys the key objects
}

absl::StatusOr<IssuedSecret> AuthorizationService::Login(
    absl::string_view user, const SecretBytes& pin, absl::string_view client_id,
    const Context& ctx) {
  ASSIGN_OR_RETURN(storage::UserRecord owner,
                   credentials_.AuthenticateUser(user, pin, ctx));
  ASSIGN_OR_RETURN(auto secret, NewSecret());
  storage::GrantRecord g;
  g.id = secret.second;
  g.kind = "access";
  g.user_id = owner.id;
  g.client_id = std::string(client_id);
  g.scope = "service";
  g.uses_left = -1;
  g.created = clock_.Now();
  g.expires = g.created + options_.access_ttl;
  RETURN_IF_ERROR(audit::RunAudited(
      store_, log_, [&](storage::Transaction& tx) -> absl::Status {
        RETURN_IF_ERROR(tx.InsertGrant(g));
        return log_.Append(tx, Event{"auth.login",
                                     {{"actor", ctx.actor},
                                      {"user", owner.name},
                                      {"client", g.client_id},
                                      {"token_id", g.id.substr(0, 16)},
                                      {"expires", FormatRfc3339(g.expires)}}});
      }));
  return IssuedSecret{secret.first, g.expires};
}

absl::StatusOr<Caller> AuthorizationService::Authenticate(
    absl::string_view bearer) {
  if (bearer.empty() || bearer.size() > 512)
    return absl::UnauthenticatedError("missing or malformed access token");
  std::string id = GrantId(bearer);
  {
    absl::MutexLock lock(&mu_);
    auto it = callers_.find(id);
    if (it != callers_.end()) {
      if (clock_.Now() < it->second.until) return it->second.caller;
      callers_.erase(it);
    }
  }
  Caller c;
  absl::Time expires;
  absl::Status st = store_.Transact(
      storage::TxMode::kReadOnly,
      [&](storage::Transaction& tx) -> absl::Status {
        auto g = tx.GetGrant(id);
        if (absl::IsNotFound(g.status()))
          return absl::UnauthenticatedError("unknown access token");
        RETURN_IF_ERROR(g.status());
        if (g->kind != "access")
          return absl::UnauthenticatedError("not an access token");
        if (g->revoked)
          return absl::UnauthenticatedError("the access token was revoked");
        if (clock_.Now() >= g->expires)
          return absl::UnauthenticatedError("the access token expired");
        ASSIGN_OR_RETURN(storage::UserRecord u, tx.GetUserById(g->user_id));
        c.user_id = u.id;
        c.user = u.name;
        c.client_id = g->client_id;
        c.scope = g->scope;
        c.credential_id = g->credential_id;
        c.token_id = g->id;
        expires = g->expires;
        return absl::OkStatus();
      });
  RETURN_IF_ERROR(st);
  absl::MutexLock lock(&mu_);
  if (callers_.size() > 100000) callers_.clear();  // bounded memory
  callers_[id] = {c, std::min(expires, clock_.Now() + absl::Seconds(60))};
  return c;
}

absl::Status AuthorizationService::Revoke(const Caller& caller,
                                          absl::string_view token,
                                          const Context& ctx) {
  std::string id = GrantId(token);
  ForgetCallers();
  return audit::RunAudited(
      store_, log_, [&](storage::Transaction& tx) -> absl::Status {
        auto g = tx.GetGrant(id);
        if (!g.ok() || g->user_id != caller.user_id ||
            (g->kind != "access" && g->kind != "refresh")) {
          return absl::InvalidArgumentError("Invalid token");
        }
        RETURN_IF_ERROR(tx.UpdateGrant(id, g->uses_left, g->hashes, true));
        ASSIGN_OR_RETURN(int64_t children, tx.RevokeGrantsWithParent(id));
        return log_.Append(tx, Event{"auth.revoke",
                                     {{"actor", ctx.actor},
                                      {"user", caller.user},
                                      {"token_id", id.substr(0, 16)},
                                      {"kind", g->kind},
                                      {"also_revoked", children}}});
      });
}

absl::StatusOr<std::vector<storage::CredentialRecord>>
AuthorizationService::ListCredentials(const Caller& caller) {
  std::vector<storage::CredentialRecord> out;
  RETURN_IF_ERROR(store_.Transact(
      storage::TxMode::kReadOnly, [&](storage::Transaction& tx) {
        ASSIGN_OR_RETURN(out, tx.ListCredentials(caller.user_id));
        return absl::OkStatus();
      }));
  return out;
}

absl::StatusOr<storage::CredentialRecord> AuthorizationService::GetCredential(
    const Caller& caller, absl::string_view credential_id) {
  storage::CredentialRecord out;
  absl::Status st = store_.Transact(
      storage::TxMode::kReadOnly, [&](storage::Transaction& tx) {
        ASSIGN_OR_RETURN(out, tx.GetCredential(credential_id));
        return absl::OkStatus();
      });
  // Another user's credential is reported exactly like a missing one.
  if (absl::IsNotFound(st) || (st.ok() && out.user_id != caller.user_id)) {
    return absl::NotFoundError("no such credential");
  }
  RETURN_IF_ERROR(st);
  return out;
}

void AuthorizationService::DropExpiredLocked() {
  absl::Time now = clock_.Now();
  for (auto it = sads_.begin(); it != sads_.end();) {
    if (now >= it->second.expires) {
      it = sads_.erase(it);
    } else {
      ++it;
    }
  }
}

absl::Status AuthorizationService::CommitGrouped(
    std::function<absl::Status(storage::Transaction&)> write) {
  PendingWrite mine{std::move(write)};
  absl::MutexLock lock(&commit_mu_);
  queue_.push_back(&mine);
  while (!mine.done) {
    if (leader_) {
      commit_cv_.Wait(&commit_mu_);
      continue;
    }
    // Lead one batch: everything queued now, ours included.
    leader_ = true;
    std::vector<PendingWrite*> batch;
    batch.swap(queue_);
    commit_mu_.Unlock();
    absl::Status st = audit::RunAudited(
        store_, log_, [&](storage::Transaction& tx) -> absl::Status {
          for (PendingWrite* p : batch) RETURN_IF_ERROR(p->write(tx));
          return absl::OkStatus();
        });
    if (st.ok() || batch.size() == 1) {
      for (PendingWrite* p : batch) p->result = st;
    } else {
      // One write spoilt the batch: give each its own outcome.
      for (PendingWrite* p : batch) {
        p->result = audit::RunAudited(
            store_, log_,
            [&](storage::Transaction& tx) { return p->write(tx); });
      }
    }
    commit_mu_.Lock();
    for (PendingWrite* p : batch) p->done = true;
    leader_ = false;
    commit_cv_.SignalAll();
  }
  return mine.result;
}

namespace {

// RFC 8252 §7.3: a native app's loopback redirect (http://127.0.0.1/… or
// http://[::1]/…, registered without a port) matches the same URI with any
// port, since the app listens on whatever port it gets. Scheme, host, path
// and query must match exactly; "localhost" is not given this latitude
// (§8.3).
bool LoopbackMatch(absl::string_view registered, absl::string_view asked) {
  for (absl::string_view host : {"http://127.0.0.1", "http://[::1]"}) {
    if (!absl::StartsWith(registered, host) || !absl::StartsWith(asked, host))
      continue;
    absl::string_view reg_rest = registered.substr(host.size());
    absl::string_view ask_rest = asked.substr(host.size());
    if (reg_rest.empty() || reg_rest[0] != '/') return false;  // has a port
    if (ask_rest.empty() || ask_rest[0] != ':') return false;
    size_t slash = ask_rest.find('/');
    if (slash == absl::string_view::npos) return false;
    absl::string_view port = ask_rest.substr(1, slash - 1);
    int n = 0;
    if (port.empty() || port.size() > 5 || !absl::SimpleAtoi(port, &n) ||
        n <= 0 || n > 65535 || port[0] == '0') {
      return false;
    }
    return ask_rest.substr(slash) == reg_rest;
  }
  return false;
}

}  // namespace

absl::StatusOr<storage::ClientRecord> AuthorizationService::CheckClient(
    absl::string_view client_id, std::string* redirect_uri) {
  storage::ClientRecord client;
  absl::Status st = store_.Transact(
      storage::TxMode::kReadOnly, [&](storage::Transaction& tx) {
        ASSIGN_OR_RETURN(client, tx.GetClient(client_id));
        return absl::OkStatus();
      });
  if (absl::IsNotFound(st) || (st.ok() && !client.active)) {
    return absl::NotFoundError("unknown client_id");
  }
  RETURN_IF_ERROR(st);
  if (redirect_uri->empty()) {
    if (client.redirect_uris.size() != 1) {
      return absl::InvalidArgumentError(
          "redirect_uri is required: the client registered several");
    }
    *redirect_uri = client.redirect_uris[0];
    return client;
  }
  for (const auto& r : client.redirect_uris) {
    if (r == *redirect_uri || LoopbackMatch(r, *redirect_uri)) return client;
  }
  return absl::InvalidArgumentError(
      "redirect_uri is not one the client registered");
}

absl::StatusOr<IssuedSecret> AuthorizationService::IssueCode(
    const CodeRequest& request, int64_t user_id, absl::string_view user,
    std::unique_ptr<hsm::ActiveKey> key, const Context& ctx) {
  ASSIGN_OR_RETURN(auto secret, NewSecret());
  storage::GrantRecord g;
  g.id = secret.second;
  g.kind = "code";
  g.user_id = user_id;
  g.client_id = request.client_id;
  g.scope = request.scope;
  g.credential_id = request.credential_id;
  std::set<std::string> bound(request.hashes.begin(), request.hashes.end());
  g.hashes = CanonicalHashes(bound);
  g.uses_left = 1;
  ASSIGN_OR_RETURN(
      g.data,
      audit::CanonicalObject(std::vector<audit::Field>{
          {"redirect_uri", request.redirect_uri},
          {"code_challenge", request.code_challenge},
          {"hash", std::string(crypto::HashAlgorithmName(request.hash))},
          {"num_signatures", int64_t{request.num_signatures}}}));
  g.created = clock_.Now();
  g.expires = g.created + absl::Seconds(60);
  RETURN_IF_ERROR(audit::RunAudited(
      store_, log_, [&](storage::Transaction& tx) -> absl::Status {
        RETURN_IF_ERROR(tx.InsertGrant(g));
        return log_.Append(
            tx, Event{"consent.yes",
                      {{"actor", ctx.actor},
                       {"user", std::string(user)},
                       {"client", request.client_id},
                       {"scope", request.scope},
                       {"credential", request.credential_id},
                       {"num_signatures", int64_t{request.num_signatures}},
                       {"hashes_sha256", HexEncode(crypto::Sha256(g.hashes))},
                       {"code_id", g.id.substr(0, 16)}}});
      }));
  if (key != nullptr) {
    ActiveSad active;
    active.key = std::move(key);
    active.remaining = std::move(bound);
    active.uses_left = request.num_signatures;
    active.expires = g.expires;
    active.user_id = user_id;
    active.client_id = request.client_id;
    active.credential_id = request.credential_id;
    active.hash = request.hash;
    absl::MutexLock lock(&mu_);
    DropExpiredLocked();
    sads_[g.id] = std::move(active);
  }
  return IssuedSecret{secret.first, g.expires};
}

absl::StatusOr<IssuedSecret> AuthorizationService::ApproveCredential(
    const CodeRequest& request, const SecretBytes& pin, absl::string_view otp,
    const Context& ctx) {
  storage::CredentialRecord cred;
  storage::UserRecord owner;
  RETURN_IF_ERROR(store_.Transact(
      storage::TxMode::kReadOnly, [&](storage::Transaction& tx) {
        ASSIGN_OR_RETURN(cred, tx.GetCredential(request.credential_id));
        ASSIGN_OR_RETURN(owner, tx.GetUserById(cred.user_id));
        return absl::OkStatus();
      }));
  std::set<std::string> bound(request.hashes.begin(), request.hashes.end());
  if (request.hashes.empty() || bound.size() != request.hashes.size() ||
      request.num_signatures != static_cast<int>(request.hashes.size()) ||
      request.num_signatures > options_.max_multisign) {
    return absl::InvalidArgumentError(
        "the documents must be given once each, at most multisign of them");
  }
  RETURN_IF_ERROR(TagFactor(credentials_.CheckTotp(owner.id, otp, ctx), "otp"));
  auto key = credentials_.Activate(cred.id, {pin, SecretBytes()}, ctx);
  if (!key.ok()) return TagFactor(key.status(), "pin");
  return IssueCode(request, owner.id, owner.name, *std::move(key), ctx);
}

absl::StatusOr<IssuedSecret> AuthorizationService::ApproveService(
    const CodeRequest& request, absl::string_view user, const SecretBytes& pin,
    absl::string_view otp, const Context& ctx) {
  auto owner = credentials_.AuthenticateUser(user, pin, ctx);
  if (!owner.ok()) return TagFactor(owner.status(), "pin");
  RETURN_IF_ERROR(
      TagFactor(credentials_.CheckTotp(owner->id, otp, ctx), "otp"));
  return IssueCode(request, owner->id, owner->name, nullptr, ctx);
}

absl::Status AuthorizationService::RecordNoConsent(const CodeRequest& request,
                                                   absl::string_view outcome,
                                                   const Context& ctx) {
  return audit::RunAudited(store_, log_, [&](storage::Transaction& tx) {
    return log_.Append(
        tx, Event{absl::StrCat("consent.", outcome),
                  {{"actor", ctx.actor},
                   {"client", request.client_id},
                   {"scope", request.scope},
                   {"credential", request.credential_id},
                   {"num_signatures", int64_t{request.num_signatures}}}});
  });
}

absl::StatusOr<AuthorizationService::TokenResult>
AuthorizationService::ExchangeCode(absl::string_view client_id,
                                   const std::optional<std::string>& secret,
                                   absl::string_view code,
                                   absl::string_view verifier,
                                   absl::string_view redirect_uri,
                                   const Context& ctx) {
  std::string code_id = GrantId(code);
  storage::GrantRecord g;
  storage::ClientRecord client;
  absl::Status found = store_.Transact(
      storage::TxMode::kReadOnly, [&](storage::Transaction& tx) {
        ASSIGN_OR_RETURN(g, tx.GetGrant(code_id));
        ASSIGN_OR_RETURN(client, tx.GetClient(client_id));
        return absl::OkStatus();
      });
  if (!found.ok() || g.kind != "code") {
    return absl::InvalidArgumentError("Invalid parameter code");
  }
  RETURN_IF_ERROR(CheckClientSecret(client, secret));
  if (g.revoked) {
    ForgetCallers();
    // A code used twice: whatever was issued from it goes too.
    (void)audit::RunAudited(
        store_, log_, [&](storage::Transaction& tx) -> absl::Status {
          ASSIGN_OR_RETURN(int64_t n, tx.RevokeGrantsWithParent(code_id));
          return log_.Append(tx, Event{"oauth2.code.replay",
                                       {{"actor", ctx.actor},
                                        {"client", std::string(client_id)},
                                        {"code_id", code_id.substr(0, 16)},
                                        {"revoked", n}}});
        });
    return absl::InvalidArgumentError("the code was already used");
  }
  if (clock_.Now() >= g.expires) {
    return absl::InvalidArgumentError("the code expired");
  }
  std::map<std::string, std::string> data;
  auto fields = audit::ParseFlatObject(g.data);
  if (!fields.ok()) return absl::DataLossError("stored code is malformed");
  for (const auto& f : *fields) {
    if (auto* v = std::get_if<std::string>(&f.value)) data[f.key] = *v;
  }
  if (g.client_id != client_id || data["redirect_uri"] != redirect_uri) {
    return absl::InvalidArgumentError(
        "the code was issued to another client or redirect_uri");
  }
  std::string challenge = Base64UrlEncode(crypto::Sha256(verifier));
  if (verifier.size() < 43 || verifier.size() > 128 ||
      !SecretBytes(challenge).ConstantTimeEquals(
          SecretBytes(data["code_challenge"]))) {
    return absl::InvalidArgumentError("the code_verifier does not match");
  }
  ASSIGN_OR_RETURN(auto token, NewSecret());
  storage::GrantRecord t;
  t.id = token.second;
  t.kind = "access";
  t.user_id = g.user_id;
  t.client_id = g.client_id;
  t.scope = g.scope;
  t.credential_id = g.credential_id;
  t.hashes = g.hashes;
  t.uses_left = g.scope == "credential" ? 0 : -1;
  t.parent = code_id;
  t.created = clock_.Now();
  t.expires = t.created + (g.scope == "credential" ? options_.sad_ttl
                                                   : options_.access_ttl);
  if (g.scope == "credential") {
    absl::MutexLock lock(&mu_);
    auto it = sads_.find(code_id);
    if (it == sads_.end()) {
      return absl::InvalidArgumentError(
          "the authorization behind this code is gone (service restarted?)");
    }
    t.uses_left = it->second.uses_left;
  }
  RETURN_IF_ERROR(audit::RunAudited(
      store_, log_, [&](storage::Transaction& tx) -> absl::Status {
        ASSIGN_OR_RETURN(storage::GrantRecord now, tx.GetGrant(code_id));
        if (now.revoked) {
          return absl::InvalidArgumentError("the code was already used");
        }
        RETURN_IF_ERROR(tx.UpdateGrant(code_id, 0, now.hashes, true));
        RETURN_IF_ERROR(tx.InsertGrant(t));
        return log_.Append(tx, Event{"oauth2.token",
                                     {{"actor", ctx.actor},
                                      {"client", t.client_id},
                                      {"scope", t.scope},
                                      {"credential", t.credential_id},
                                      {"code_id", code_id.substr(0, 16)},
                                      {"token_id", t.id.substr(0, 16)},
                                      {"expires", FormatRfc3339(t.expires)}}});
      }));
  if (g.scope == "credential") {
    // The consent's key now answers to the token (the token is the SAD).
    absl::MutexLock lock(&mu_);
    auto it = sads_.find(code_id);
    if (it != sads_.end()) {
      ActiveSad moved = std::move(it->second);
      sads_.erase(it);
      moved.expires = t.expires;
      sads_[t.id] = std::move(moved);
    }
  }
  return TokenResult{{token.first, t.expires}, t.scope, t.credential_id};
}

absl::Status AuthorizationService::RevokeForClient(
    absl::string_view client_id, const std::optional<std::string>& secret,
    absl::string_view token, const Context& ctx) {
  std::string id = GrantId(token);
  ForgetCallers();
  return audit::RunAudited(
      store_, log_, [&](storage::Transaction& tx) -> absl::Status {
        auto client = tx.GetClient(client_id);
        if (!client.ok() || !client->active) {
          return absl::PermissionDeniedError("unknown client");
        }
        RETURN_IF_ERROR(CheckClientSecret(*client, secret));
        auto g = tx.GetGrant(id);
        if (!g.ok() || g->client_id != client_id || g->kind != "access" ||
            g->revoked) {
          return absl::OkStatus();  // RFC 7009 §2.2: nothing to do
        }
        RETURN_IF_ERROR(tx.UpdateGrant(id, g->uses_left, g->hashes, true));
        return log_.Append(tx, Event{"oauth2.revoke",
                                     {{"actor", ctx.actor},
                                      {"client", std::string(client_id)},
                                      {"token_id", id.substr(0, 16)},
                                      {"scope", g->scope}}});
      });
}

void AuthorizationService::ForgetCallers() {
  absl::MutexLock lock(&mu_);
  callers_.clear();
}

size_t AuthorizationService::active_sads() {
  absl::MutexLock lock(&mu_);
  DropExpiredLocked();
  return sads_.size();
}

absl::StatusOr<std::string> AuthorizationService::NewCardChallenge(
    const Caller& caller, absl::string_view credential_id) {
  ASSIGN_OR_RETURN(storage::CredentialRecord cred,
                   GetCredential(caller, credential_id));
  ASSIGN_OR_RETURN(std::string raw, RandomBytes(32));
  std::string b64 = Base64Encode(raw);
  absl::MutexLock lock(&mu_);
  challenges_[absl::StrCat(caller.token_id, "|", cred.id)] = {
      b64, clock_.Now() + absl::Minutes(2)};
  return b64;
}

absl::StatusOr<IssuedSecret> AuthorizationService::AuthorizeCredential(
    const Caller& caller, absl::string_view credential_id,
    const std::vector<std::string>& hashes, crypto::HashAlgorithm hash,
    int num_signatures, const SecretBytes& pin, const Possession& possession,
    const Context& ctx) {
  ASSIGN_OR_RETURN(storage::CredentialRecord cred,
                   GetCredential(caller, credential_id));
  if (caller.scope == "credential" && caller.credential_id != cred.id) {
    return absl::PermissionDeniedError(
        "the access token is for another credential");
  }
  int scal = 2;
  RETURN_IF_ERROR(store_.Transact(
      storage::TxMode::kReadOnly, [&](storage::Transaction& tx) {
        ASSIGN_OR_RETURN(scal, LoadScal(tx, cred.id));
        return absl::OkStatus();
      }));
  if (scal == 2) {
    return absl::PermissionDeniedError(
        "this credential (SCAL 2) is authorized only on the service's consent "
        "page (oauth2/authorize with scope=credential)");
  }
  std::set<std::string> bound(hashes.begin(), hashes.end());
  if (hashes.empty() || bound.size() != hashes.size()) {
    return absl::InvalidArgumentError("hashes must be given, each once");
  }
  if (num_signatures != static_cast<int>(hashes.size()) ||
      num_signatures > options_.max_multisign) {
    return absl::InvalidArgumentError(
        absl::StrCat("numSignatures must equal the number of hashes and be at "
                     "most ",
                     options_.max_multisign));
  }
  size_t len = crypto::DigestLength(hash);
  for (const auto& h : hashes) {
    if (h.size() != len)
      return absl::InvalidArgumentError("a hash has the wrong length");
  }
  // Both factors, each under its own try budget: the code first (cheap, and
  // a wrong code spends no PIN try), then the PIN, which unseals the key.
  if (!possession.card_signature.empty()) {
    std::string challenge;
    {
      absl::MutexLock lock(&mu_);
      auto it = challenges_.find(absl::StrCat(caller.token_id, "|", cred.id));
      if (it != challenges_.end()) {
        if (clock_.Now() < it->second.expires) challenge = it->second.b64;
        challenges_.erase(it);  // a challenge is answered once
      }
    }
    if (challenge.empty()) {
      return TagFactor(absl::InvalidArgumentError(
                           "no card challenge for this credential: call "
                           "credentials/getChallenge first"),
                       "card");
    }
    RETURN_IF_ERROR(TagFactor(
        credentials_.CheckCard(caller.user_id,
                               CardChallengeMessage(challenge, cred.id, bound),
                               possession.card_signature, ctx),
        "card"));
  } else {
    RETURN_IF_ERROR(TagFactor(
        credentials_.CheckTotp(caller.user_id, possession.otp, ctx), "otp"));
  }
  auto activated = credentials_.Activate(cred.id, {pin, SecretBytes()}, ctx);
  if (!activated.ok()) return TagFactor(activated.status(), "pin");
  std::unique_ptr<hsm::ActiveKey> key = *std::move(activated);
  ASSIGN_OR_RETURN(auto secret, NewSecret());
  storage::GrantRecord g;
  g.id = secret.second;
  g.kind = "sad";
  g.user_id = caller.user_id;
  g.client_id = caller.client_id;
  g.scope = "credential";
  g.credential_id = cred.id;
  g.hashes = CanonicalHashes(bound);
  g.uses_left = num_signatures;
  g.parent = caller.token_id;
  g.created = clock_.Now();
  g.expires = g.created + options_.sad_ttl;
  RETURN_IF_ERROR(audit::RunAudited(
      store_, log_, [&](storage::Transaction& tx) -> absl::Status {
        RETURN_IF_ERROR(tx.InsertGrant(g));
        return log_.Append(
            tx, Event{"sad.issue",
                      {{"actor", ctx.actor},
                       {"user", caller.user},
                       {"client", caller.client_id},
                       {"credential", cred.id},
                       {"sad_id", g.id.substr(0, 16)},
                       {"mode", "explicit"},
                       {"num_signatures", int64_t{num_signatures}},
                       {"hashes_sha256", HexEncode(crypto::Sha256(g.hashes))},
                       {"expires", FormatRfc3339(g.expires)}}});
      }));
  ActiveSad active;
  active.key = std::move(key);
  active.remaining = std::move(bound);
  active.uses_left = num_signatures;
  active.expires = g.expires;
  active.user_id = caller.user_id;
  active.client_id = caller.client_id;
  active.credential_id = cred.id;
  active.hash = hash;
  absl::MutexLock lock(&mu_);
  DropExpiredLocked();
  sads_[g.id] = std::move(active);
  return IssuedSecret{secret.first, g.expires};
}

absl::StatusOr<crypto::KeyAlgorithm> AuthorizationService::SadKeyAlgorithm(
    const Caller& caller, absl::string_view credential_id,
    absl::string_view sad) {
  std::string id = GrantId(sad);
  absl::MutexLock lock(&mu_);
  auto it = sads_.find(id);
  if (it == sads_.end()) return absl::InvalidArgumentError("invalid SAD");
  const ActiveSad& s = it->second;
  if (clock_.Now() >= s.expires || s.user_id != caller.user_id ||
      s.client_id != caller.client_id || s.credential_id != credential_id) {
    return absl::InvalidArgumentError("invalid SAD");
  }
  return s.key->algorithm();
}

absl::StatusOr<std::vector<std::string>> AuthorizationService::SignHashes(
    const Caller& caller, absl::string_view credential_id,
    absl::string_view sad, const std::vector<std::string>& hashes,
    const crypto::SignatureScheme& scheme, const Context& ctx) {
  std::string id = GrantId(sad);
  std::set<std::string> asked(hashes.begin(), hashes.end());
  if (hashes.empty() || asked.size() != hashes.size()) {
    return absl::InvalidArgumentError("hashes must be given, each once");
  }
  // Take the hashes out of the SAD first, under the lock: two requests can
  // never both use one hash.
  std::shared_ptr<hsm::ActiveKey> key;
  int64_t uses_left = 0;
  {
    absl::MutexLock lock(&mu_);
    auto it = sads_.find(id);
    if (it == sads_.end()) {
      return absl::InvalidArgumentError("invalid SAD");
    }
    ActiveSad& s = it->second;
    if (clock_.Now() >= s.expires) {
      sads_.erase(it);
      return absl::FailedPreconditionError("SAD expired");
    }
    if (s.user_id != caller.user_id || s.client_id != caller.client_id ||
        s.credential_id != credential_id) {
      return absl::InvalidArgumentError("invalid SAD");
    }
    if (scheme.hash != s.hash) {
      return absl::InvalidArgumentError(
          "the hash algorithm is not the one authorized");
    }
    if (static_cast<int64_t>(hashes.size()) > s.uses_left) {
      return absl::OutOfRangeError("Numbers of signatures is too high");
    }
    for (const auto& h : hashes) {
      if (!s.remaining.count(h))
        return absl::OutOfRangeError("Hash is not authorized by the SAD.");
    }
    for (const auto& h : hashes) s.remaining.erase(h);
    s.uses_left -= static_cast<int64_t>(hashes.size());
    uses_left = s.uses_left;
    key = s.key;
  }
  std::vector<std::string> signatures;
  signatures.reserve(hashes.size());
  absl::Status st;
  for (const auto& h : hashes) {
    auto sig = key->Sign(scheme, h);
    if (!sig.ok()) {
      st = sig.status();
      break;
    }
    signatures.push_back(*std::move(sig));
  }
  if (st.ok()) {
    st = CommitGrouped([&](storage::Transaction& tx) -> absl::Status {
      // The grant keeps the authorized set (written once, at issue); what
      // is left is counted, and each hash signed is on the log.
      RETURN_IF_ERROR(
          tx.LowerGrantUses(id, uses_left, /*revoke=*/uses_left == 0));
      // One entry per request, naming every hash it signed.
      std::vector<std::string> hex;
      hex.reserve(hashes.size());
      for (const auto& h : hashes) hex.push_back(HexEncode(h));
      RETURN_IF_ERROR(log_.Append(
          tx, Event{"signature",
                    {{"actor", ctx.actor},
                     {"user", caller.user},
                     {"client", caller.client_id},
                     {"credential", std::string(credential_id)},
                     {"sad_id", id.substr(0, 16)},
                     {"count", static_cast<int64_t>(hashes.size())},
                     {"hashes", absl::StrJoin(hex, ",")},
                     {"algorithm",
                      std::string(crypto::KeyAlgorithmName(scheme.key))},
                     {"digest",
                      std::string(crypto::HashAlgorithmName(scheme.hash))}}}));
      return absl::OkStatus();
    });
  }
  absl::MutexLock lock(&mu_);
  auto it = sads_.find(id);
  if (!st.ok()) {
    // Nothing was handed out: the hashes go back into the SAD.
    if (it != sads_.end()) {
      for (const auto& h : hashes) it->second.remaining.insert(h);
      it->second.uses_left += static_cast<int64_t>(hashes.size());
    }
    return st;
  }
  if (it != sads_.end() && it->second.uses_left == 0) sads_.erase(it);
  return signatures;
}

}  // namespace inkan::sam
