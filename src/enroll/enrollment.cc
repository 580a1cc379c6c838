#include "enroll/enrollment.h"

#include <arpa/inet.h>
#include <openssl/x509.h>

#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "audit/canonical_json.h"
#include "audit/timestamp.h"
#include "common/encoding.h"
#include "common/random.h"
#include "common/status_macros.h"
#include "crypto/digest.h"
#include "crypto/key_transport.h"
#include "crypto/signer.h"
#include "sam/authorization.h"
#include "sam/totp.h"
#include "storage/credential_meta.h"

namespace inkan::enroll {
namespace {

using audit::Event;
using audit::Field;

constexpr size_t kIdBytes = 10;      // 16 base32 characters
constexpr size_t kSecretBytes = 20;  // 32 base32 characters, 160 bits

std::string MetaKey(absl::string_view id) {
  return absl::StrCat("enroll.", id);
}

// The stored record of one code: a canonical flat object.
struct Record {
  std::string user, state, mac_hex, request;
  absl::Time expires;
  int64_t wrong = 0;
  int64_t scal = 2;
};

absl::StatusOr<std::string> Serialize(const Record& r) {
  return audit::CanonicalObject(
      std::vector<Field>{{"expires", audit::FormatTimestamp(r.expires)},
                         {"mac", r.mac_hex},
                         {"request", r.request},
                         {"scal", r.scal},
                         {"state", r.state},
                         {"user", r.user},
                         {"wrong", r.wrong}});
}

absl::StatusOr<Record> Parse(absl::string_view text) {
  ASSIGN_OR_RETURN(std::vector<Field> fields, audit::ParseFlatObject(text));
  Record r;
  for (const Field& f : fields) {
    if (const auto* s = std::get_if<std::string>(&f.value)) {
      if (f.key == "user") r.user = *s;
      if (f.key == "state") r.state = *s;
      if (f.key == "mac") r.mac_hex = *s;
      if (f.key == "request") r.request = *s;
      if (f.key == "expires") {
        ASSIGN_OR_RETURN(r.expires, audit::ParseTimestamp(*s));
      }
    } else if (const auto* i = std::get_if<int64_t>(&f.value)) {
      if (f.key == "wrong") r.wrong = *i;
      if (f.key == "scal") r.scal = *i;
    }
  }
  if (r.user.empty() || r.mac_hex.empty() || r.state.empty()) {
    return absl::DataLossError("an enrollment record is incomplete");
  }
  return r;
}

absl::StatusOr<SecretBytes> CodeMac(hsm::KeyStore& keys, absl::string_view id,
                                    const SecretBytes& secret) {
  SecretBytes input(absl::StrCat("inkan-enroll-code-v1|", id, "|"));
  input.Append(secret.Reveal());
  return keys.Pepper(input);
}

std::string Lower(absl::string_view s) { return absl::AsciiStrToLower(s); }

absl::StatusOr<absl::Duration> ParseValidFor(absl::string_view text) {
  absl::Duration d;
  if (!absl::ParseDuration(text, &d) || d < absl::Minutes(10) ||
      d > absl::Hours(24 * 30)) {
    return absl::InvalidArgumentError(
        "valid_for is a duration from 10m to 720h (e.g. 72h)");
  }
  return d;
}

// What failures are counted by: an IPv4 address, or an IPv6 /64 (one
// subscriber usually has a whole /64). `peer` is "1.2.3.4:port" or
// "[v6]:port".
std::string Address(absl::string_view peer) {
  size_t colon = peer.rfind(':');
  std::string host(colon == absl::string_view::npos ? peer
                                                    : peer.substr(0, colon));
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  unsigned char v6[16];
  if (inet_pton(AF_INET6, host.c_str(), v6) == 1) {
    std::fill(v6 + 8, v6 + 16, 0);
    char text[INET6_ADDRSTRLEN];
    if (inet_ntop(AF_INET6, v6, text, sizeof(text)) != nullptr) {
      return absl::StrCat(text, "/64");
    }
  }
  return host;
}

}  // namespace

std::string UploadProofMessage(const SecretBytes& session_token) {
  return absl::StrCat("inkan-enroll-upload-v1\n",
                      HexEncode(crypto::Sha256(session_token.RevealString())));
}

crypto::SignatureScheme ProofScheme(crypto::KeyAlgorithm alg) {
  crypto::SignatureScheme scheme{alg, crypto::HashAlgorithm::kSha256};
  if (alg == crypto::KeyAlgorithm::kEcP384) {
    scheme.hash = crypto::HashAlgorithm::kSha384;
  }
  return scheme;
}

absl::string_view StepName(Step step) {
  switch (step) {
    case Step::kPin:
      return "pin";
    case Step::kFactor:
      return "factor";
    case Step::kTotpConfirm:
      return "totp-confirm";
    case Step::kKey:
      return "key";
    case Step::kDownload:
      return "download";
    case Step::kReceipt:
      return "receipt";
    case Step::kDone:
      return "done";
  }
  return "?";
}

absl::StatusOr<ParsedCode> ParseCode(absl::string_view code) {
  code = absl::StripAsciiWhitespace(code);
  size_t dot = code.find('.');
  if (dot != 2 * kIdBytes * 8 / 10 || code.size() != dot + 1 + 32) {
    return absl::InvalidArgumentError("not an enrollment code");
  }
  std::string id = Lower(code.substr(0, dot));
  auto id_bytes = sam::Base32Decode(absl::AsciiStrToUpper(id));
  auto secret = sam::Base32Decode(absl::AsciiStrToUpper(code.substr(dot + 1)));
  if (!id_bytes.ok() || id_bytes->size() != kIdBytes || !secret.ok() ||
      secret->size() != kSecretBytes) {
    return absl::InvalidArgumentError("not an enrollment code");
  }
  return ParsedCode{id, *std::move(secret)};
}

void RegisterOperations(ceremony::Ceremonies& ceremonies, storage::Store& store,
                        hsm::KeyStore& keys, const audit::AuditLog& log,
                        const Clock& clock) {
  ceremony::OperationSpec spec;
  spec.name = kIssueOperation;
  spec.summary =
      "issue a one-time enrollment code for a new user: user, valid_for "
      "(default 72h), scal (1 or 2, default 2)";
  // Only the parameters here: validate also runs inside the execution's
  // transaction, where it must not open another.
  spec.validate = [](const ceremony::Params& p) -> absl::Status {
    auto user = ceremony::FindParam(p, "user");
    if (!user || user->empty() || user->size() > 64) {
      return absl::InvalidArgumentError("enroll.issue needs user=NAME");
    }
    if (auto v = ceremony::FindParam(p, "valid_for")) {
      RETURN_IF_ERROR(ParseValidFor(*v).status());
    }
    if (auto scal = ceremony::FindParam(p, "scal");
        scal && *scal != "1" && *scal != "2") {
      return absl::InvalidArgumentError("scal is 1 or 2");
    }
    return absl::OkStatus();
  };
  hsm::KeyStore* ks = &keys;
  const audit::AuditLog* lg = &log;
  const Clock* ck = &clock;
  spec.execute_with_inputs =
      [ks, lg, ck](storage::Transaction& tx, const ceremony::Params& p,
                   absl::string_view actor, const std::vector<SecretBytes>&,
                   std::map<std::string, SecretBytes>* outputs)
      -> absl::StatusOr<std::string> {
    if (outputs == nullptr) {
      return absl::FailedPreconditionError(
          "the code is handed out once, at execution: run `inkan enroll "
          "release --id ID`");
    }
    std::string user = *ceremony::FindParam(p, "user");
    absl::Duration valid_for = absl::Hours(72);
    if (auto v = ceremony::FindParam(p, "valid_for")) {
      ASSIGN_OR_RETURN(valid_for, ParseValidFor(*v));
    }
    auto scal = ceremony::FindParam(p, "scal");
    // The two-person rule: the quorum that approved this is at least 2.
    ASSIGN_OR_RETURN(std::optional<std::string> quorum,
                     tx.GetMeta("ceremony.quorum"));
    if (quorum && *quorum == "1") {
      return absl::FailedPreconditionError(
          "enrollment codes follow the two-person rule: the quorum must be at "
          "least 2");
    }
    auto existing = tx.GetUserByName(user);
    if (existing.ok()) {
      return absl::AlreadyExistsError(
          absl::StrCat("user '", user, "' already exists"));
    }
    ASSIGN_OR_RETURN(std::string id_bytes, RandomBytes(kIdBytes));
    ASSIGN_OR_RETURN(SecretBytes secret, RandomSecret(kSecretBytes));
    std::string id = Lower(sam::Base32Encode(absl::Span<const uint8_t>(
        reinterpret_cast<const uint8_t*>(id_bytes.data()), id_bytes.size())));
    ASSIGN_OR_RETURN(SecretBytes mac, CodeMac(*ks, id, secret));
    Record r;
    r.user = user;
    r.state = "issued";
    r.mac_hex = HexEncode(mac.RevealString());
    r.expires = ck->Now() + valid_for;
    r.scal = scal && *scal == "1" ? 1 : 2;
    ASSIGN_OR_RETURN(std::string text, Serialize(r));
    RETURN_IF_ERROR(tx.PutMeta(MetaKey(id), text));
    RETURN_IF_ERROR(
        lg->Append(tx, Event{"enroll.code_issued",
                             {{"actor", std::string(actor)},
                              {"enrollment", id},
                              {"expires", audit::FormatTimestamp(r.expires)},
                              {"scal", r.scal},
                              {"user", user}}}));
    // The delivery marker: the code leaves inkan now, once, to the operator
    // who runs the execution, for the letter or mail.
    RETURN_IF_ERROR(lg->Append(
        tx, Event{"enroll.code_released",
                  {{"enrollment", id},
                   {"to", std::string(actor)},
                   {"channel", "out-of-band (printed once by the CLI)"}}}));
    SecretBytes code(absl::StrCat(id, "."));
    code.Append(Lower(sam::Base32Encode(secret.Reveal())));
    (*outputs)["code"] = std::move(code);
    return absl::StrCat("enrollment ", id, " for ", user, ", valid until ",
                        audit::FormatTimestamp(r.expires));
  };
  ceremonies.Register(std::move(spec));
}

// ---- Redemption ----

bool EnrollmentService::Throttled(const std::string& address) {
  // Forget every address whose failures are all older than the window.
  absl::Time cutoff = clock_.Now() - options_.peer_window;
  for (auto it = failures_.begin(); it != failures_.end();) {
    while (!it->second.empty() && it->second.front() < cutoff) {
      it->second.pop_front();
    }
    it = it->second.empty() ? failures_.erase(it) : std::next(it);
  }
  for (auto it = throttle_logged_.begin(); it != throttle_logged_.end();) {
    it = it->second < cutoff ? throttle_logged_.erase(it) : std::next(it);
  }
  auto it = failures_.find(address);
  return it != failures_.end() &&
         static_cast<int>(it->second.size()) >= options_.max_peer_failures;
}

void EnrollmentService::NoteFailure(const std::string& address) {
  absl::MutexLock lock(&mu_);
  failures_[address].push_back(clock_.Now());
}

absl::Status EnrollmentService::Log(const Event& event) {
  return audit::RunAudited(store_, log_, [&](storage::Transaction& tx) {
    return log_.Append(tx, event);
  });
}

absl::Status EnrollmentService::RecordRedeem(
    absl::string_view id, absl::string_view peer, absl::string_view result,
    const std::function<absl::Status(storage::Transaction&)>& change) {
  return audit::RunAudited(
      store_, log_, [&](storage::Transaction& tx) -> absl::Status {
        if (change) RETURN_IF_ERROR(change(tx));
        return log_.Append(tx, Event{"enroll.redeem",
                                     {{"enrollment", std::string(id)},
                                      {"peer", std::string(peer)},
                                      {"result", std::string(result)}}});
      });
}

absl::StatusOr<SecretBytes> EnrollmentService::Redeem(absl::string_view code,
                                                      absl::string_view peer) {
  const std::string address = Address(peer);
  bool throttled, log_it = false;
  {
    absl::MutexLock lock(&mu_);
    throttled = Throttled(address);
    // One log entry per throttled address per window, not one per attempt:
    // a guesser must not be able to flood the log (and every writer).
    if (throttled) {
      absl::Time& logged = throttle_logged_[address];
      if (logged < clock_.Now() - options_.peer_window) {
        logged = clock_.Now();
        log_it = true;
      }
    }
  }
  if (throttled) {
    if (log_it) (void)RecordRedeem("", peer, "throttled");
    return absl::ResourceExhaustedError(
        "too many failed enrollment attempts from this address; try again "
        "later");
  }
  auto parsed = ParseCode(code);
  if (!parsed.ok()) {
    NoteFailure(address);
    RETURN_IF_ERROR(RecordRedeem("", peer, "malformed"));
    return parsed.status();
  }
  // Look the code up, check it and change its state in one transaction, so
  // two attempts at once cannot both redeem it.
  std::string result, user;
  int64_t scal = 2;
  absl::Status outcome;
  RETURN_IF_ERROR(audit::RunAudited(
      store_, log_, [&](storage::Transaction& tx) -> absl::Status {
        ASSIGN_OR_RETURN(std::optional<std::string> text,
                         tx.GetMeta(MetaKey(parsed->id)));
        if (!text) {
          result = "unknown";
          outcome = absl::NotFoundError("this enrollment code does not work");
        } else {
          ASSIGN_OR_RETURN(Record r, Parse(*text));
          ASSIGN_OR_RETURN(SecretBytes mac,
                           CodeMac(keys_, parsed->id, parsed->secret));
          auto stored = HexDecode(r.mac_hex);
          bool match =
              stored.ok() && SecretBytes(*stored).ConstantTimeEquals(mac);
          if (r.state != "issued") {
            result = absl::StrCat("not-usable:", r.state);
            outcome = absl::FailedPreconditionError(
                "this enrollment code was already used or withdrawn; ask your "
                "provider for a new one");
          } else if (clock_.Now() >= r.expires) {
            result = "expired";
            r.state = "expired";
            outcome = absl::FailedPreconditionError(
                "this enrollment code has expired; ask your provider for a "
                "new one");
          } else if (!match) {
            ++r.wrong;
            result = "wrong-secret";
            if (r.wrong >= options_.max_wrong_secrets) {
              r.state = "burnt";
              result = "wrong-secret:burnt";
            }
            outcome = absl::UnauthenticatedError(
                "this enrollment code does not work");
          } else {
            // Burnt on first use, whatever happens next.
            r.state = "redeemed";
            result = "ok";
            user = r.user;
            scal = r.scal;
          }
          ASSIGN_OR_RETURN(std::string updated, Serialize(r));
          RETURN_IF_ERROR(tx.PutMeta(MetaKey(parsed->id), updated));
        }
        return log_.Append(tx, Event{"enroll.redeem",
                                     {{"enrollment", parsed->id},
                                      {"peer", std::string(peer)},
                                      {"result", result}}});
      }));
  if (!outcome.ok()) {
    NoteFailure(address);
    return outcome;
  }
  ASSIGN_OR_RETURN(std::string token_bytes, RandomBytes(32));
  ASSIGN_OR_RETURN(std::string csrf, RandomBytes(24));
  SecretBytes token(Base64UrlEncode(token_bytes));
  auto box = std::make_shared<SessionBox>();
  box->s.enrollment_id = parsed->id;
  box->s.user = user;
  box->s.scal = static_cast<int>(scal);
  box->s.csrf = Base64UrlEncode(csrf);
  box->s.expires = clock_.Now() + options_.session_ttl;
  absl::MutexLock lock(&mu_);
  sessions_[HexEncode(crypto::Sha256(token.RevealString()))] = std::move(box);
  return token;
}

// ---- The session ----

absl::StatusOr<std::shared_ptr<EnrollmentService::SessionBox>>
EnrollmentService::Find(const SecretBytes& token) {
  std::string key = HexEncode(crypto::Sha256(token.RevealString()));
  absl::MutexLock lock(&mu_);
  // Drop sessions past their time (they hold a PIN until the key is made).
  absl::Time now = clock_.Now();
  for (auto it = sessions_.begin(); it != sessions_.end();) {
    if (it->second->s.expires <= now) {
      it = sessions_.erase(it);
    } else {
      ++it;
    }
  }
  auto it = sessions_.find(key);
  if (it == sessions_.end()) {
    return absl::NotFoundError(
        "this enrollment session has ended or does not exist; the code "
        "cannot be used again: ask your provider for a new one");
  }
  return it->second;
}

absl::Status EnrollmentService::WithSession(
    const SecretBytes& token, std::initializer_list<Step> expected,
    const std::function<absl::Status(Session&)>& fn) {
  ASSIGN_OR_RETURN(std::shared_ptr<SessionBox> box, Find(token));
  absl::MutexLock lock(&box->mu);
  bool at = false;
  for (Step e : expected) at = at || box->s.step == e;
  if (!at) {
    return absl::FailedPreconditionError(
        absl::StrCat("this enrollment is at step '", StepName(box->s.step),
                     "', not at this one"));
  }
  return fn(box->s);
}

absl::StatusOr<SessionView> EnrollmentService::View(const SecretBytes& token) {
  ASSIGN_OR_RETURN(std::shared_ptr<SessionBox> box, Find(token));
  absl::MutexLock lock(&box->mu);
  const Session& s = box->s;
  SessionView v;
  v.enrollment_id = s.enrollment_id;
  v.user = s.user;
  v.step = s.step;
  v.csrf = s.csrf;
  v.totp_uri = s.totp_uri;
  v.path = s.path;
  v.credential_id = s.credential_id;
  v.algorithm = s.algorithm;
  v.certificate_der = s.certificate;
  v.certificate_pending = s.certificate_pending;
  v.expires = s.expires;
  return v;
}

absl::Status EnrollmentService::CheckCsrf(const SecretBytes& token,
                                          absl::string_view csrf) {
  ASSIGN_OR_RETURN(std::shared_ptr<SessionBox> box, Find(token));
  absl::MutexLock lock(&box->mu);
  if (csrf.empty() ||
      !SecretBytes(csrf).ConstantTimeEquals(SecretBytes(box->s.csrf))) {
    return absl::PermissionDeniedError("the form's CSRF token does not match");
  }
  return absl::OkStatus();
}

sam::Context EnrollmentService::Ctx(const Session& s) const {
  return sam::Context{absl::StrCat("enroll:", s.enrollment_id)};
}

absl::Status EnrollmentService::SetPin(const SecretBytes& token,
                                       const SecretBytes& pin) {
  return WithSession(token, {Step::kPin}, [&](Session& s) -> absl::Status {
    ASSIGN_OR_RETURN(s.user_id, credentials_.AddUser(s.user, pin, Ctx(s)));
    s.pin = pin;
    s.step = Step::kFactor;
    return absl::OkStatus();
  });
}

absl::Status EnrollmentService::StartTotp(const SecretBytes& token) {
  return WithSession(token, {Step::kFactor, Step::kTotpConfirm},
                     [&](Session& s) -> absl::Status {
                       ASSIGN_OR_RETURN(
                           s.totp_uri,
                           credentials_.EnrollTotp(
                               s.user, s.pin, options_.totp_issuer, Ctx(s)));
                       s.step = Step::kTotpConfirm;
                       return absl::OkStatus();
                     });
}

absl::Status EnrollmentService::ConfirmTotp(const SecretBytes& token,
                                            absl::string_view otp) {
  return WithSession(
      token, {Step::kTotpConfirm}, [&](Session& s) -> absl::Status {
        // The user id kept from the PIN step: no second PIN check (an
        // Argon2 run and a try from the user's budget) just to find it.
        RETURN_IF_ERROR(credentials_.CheckTotp(s.user_id, otp, Ctx(s)));
        CleanseMemory(s.totp_uri.data(), s.totp_uri.size());
        s.totp_uri.clear();
        s.step = Step::kKey;
        return Log(Event{"enroll.factor",
                         {{"enrollment", s.enrollment_id},
                          {"factor", "totp"},
                          {"user", s.user}}});
      });
}

absl::Status EnrollmentService::RegisterCard(
    const SecretBytes& token, absl::string_view certificate_der) {
  return WithSession(token, {Step::kFactor}, [&](Session& s) -> absl::Status {
    RETURN_IF_ERROR(
        credentials_.EnrollCard(s.user, s.pin, certificate_der, Ctx(s)));
    s.step = Step::kKey;
    return Log(Event{"enroll.factor",
                     {{"enrollment", s.enrollment_id},
                      {"factor", "card"},
                      {"user", s.user}}});
  });
}

// ---- The key ----

absl::Status EnrollmentService::FinishKey(Session& s,
                                          const std::string& credential_id,
                                          absl::string_view path,
                                          crypto::KeyAlgorithm alg, Step next) {
  // The session moves on first: a failure below must not make a retry create
  // a second credential (or try the wiped PIN).
  s.credential_id = credential_id;
  s.path = std::string(path);
  s.algorithm = std::string(crypto::KeyAlgorithmName(alg));
  s.step = next;
  s.pin = SecretBytes();  // not needed any more
  // No certificate before the user's receipt (R9): the CA refuses while this
  // mark is there; ConfirmReceipt removes it.
  RETURN_IF_ERROR(audit::RunAudited(
      store_, log_, [&](storage::Transaction& tx) -> absl::Status {
        RETURN_IF_ERROR(
            tx.PutMeta(storage::CredentialAwaitingReceiptKey(credential_id),
                       s.enrollment_id));
        return log_.Append(tx, Event{"enroll.path",
                                     {{"algorithm", s.algorithm},
                                      {"credential", credential_id},
                                      {"enrollment", s.enrollment_id},
                                      {"path", std::string(path)},
                                      {"user", s.user}}});
      }));
  if (s.scal != 2) {
    RETURN_IF_ERROR(sam::SetScal(store_, log_, credential_id, s.scal, Ctx(s)));
  }
  return absl::OkStatus();
}

absl::Status EnrollmentService::CreateInHsm(const SecretBytes& token,
                                            crypto::KeyAlgorithm alg) {
  return WithSession(token, {Step::kKey}, [&](Session& s) -> absl::Status {
    ASSIGN_OR_RETURN(std::string id,
                     credentials_.CreateCredential(
                         s.user, alg, sam::Factors{s.pin, {}}, Ctx(s)));
    return FinishKey(s, id, "hsm", alg, Step::kReceipt);
  });
}

namespace {

// True if `leaf_der` is signed by the key of `ca_der` and valid for at least
// `margin` more.
bool StillGood(const std::string& leaf_der, absl::string_view ca_der,
               absl::Duration margin) {
  const unsigned char* p =
      reinterpret_cast<const unsigned char*>(leaf_der.data());
  std::unique_ptr<X509, decltype(&X509_free)> leaf(
      d2i_X509(nullptr, &p, static_cast<long>(leaf_der.size())), X509_free);
  p = reinterpret_cast<const unsigned char*>(ca_der.data());
  std::unique_ptr<X509, decltype(&X509_free)> ca(
      d2i_X509(nullptr, &p, static_cast<long>(ca_der.size())), X509_free);
  if (leaf == nullptr || ca == nullptr) return false;
  EVP_PKEY* ca_key = X509_get0_pubkey(ca.get());
  if (ca_key == nullptr || X509_verify(leaf.get(), ca_key) != 1) return false;
  time_t limit = absl::ToTimeT(absl::Now() + margin);
  return X509_cmp_time(X509_get0_notAfter(leaf.get()), &limit) > 0;
}

}  // namespace

absl::StatusOr<std::string> EnrollmentService::TransportCertificate(
    absl::string_view ca_der) {
  ASSIGN_OR_RETURN(std::string spki, keys_.EnrollTransportKey());
  const std::string meta_key =
      absl::StrCat("enroll.transport.", HexEncode(crypto::Sha256(spki)));
  std::optional<std::string> stored;
  RETURN_IF_ERROR(store_.Transact(
      storage::TxMode::kReadOnly, [&](storage::Transaction& tx) {
        ASSIGN_OR_RETURN(stored, tx.GetMeta(meta_key));
        return absl::OkStatus();
      }));
  std::string der;
  if (stored) {
    ASSIGN_OR_RETURN(der, Base64Decode(*stored));
  }
  // Renewed a month before its end, or when the CA is no longer the one that
  // signed it; while the CA key is not active, a still valid one is kept.
  if (!der.empty() && StillGood(der, ca_der, absl::Hours(24 * 30))) return der;
  auto fresh = certify_(spki);
  if (!fresh.ok()) {
    if (!der.empty() && StillGood(der, ca_der, absl::ZeroDuration())) {
      return der;
    }
    return fresh.status();
  }
  RETURN_IF_ERROR(store_.Transact(
      storage::TxMode::kReadWrite, [&](storage::Transaction& tx) {
        return tx.PutMeta(meta_key, Base64Encode(*fresh));
      }));
  return *fresh;
}

absl::Status EnrollmentService::ImportKey(const SecretBytes& token,
                                          crypto::KeyAlgorithm alg,
                                          absl::string_view public_key_der,
                                          absl::string_view wrapped_blob,
                                          absl::string_view proof) {
  return WithSession(token, {Step::kKey}, [&](Session& s) -> absl::Status {
    auto refuse = [&](absl::string_view reason) {
      (void)Log(Event{"enroll.key_import",
                      {{"enrollment", s.enrollment_id},
                       {"result", "refused"},
                       {"reason", std::string(reason)}}});
      return absl::InvalidArgumentError(reason);
    };
    // Proof of possession, bound to this session.
    const crypto::SignatureScheme scheme = ProofScheme(alg);
    auto pop = crypto::NewVerifier(public_key_der, scheme);
    if (!pop.ok() ||
        !crypto::VerifyMessage(**pop, scheme, UploadProofMessage(token), proof)
             .ok()) {
      return refuse(
          "the upload's proof does not verify: it must be signed by the "
          "uploaded key for this enrollment session");
    }
    std::optional<std::string> holder;
    RETURN_IF_ERROR(store_.Transact(
        storage::TxMode::kReadOnly, [&](storage::Transaction& tx) {
          ASSIGN_OR_RETURN(holder,
                           tx.GetMeta(sam::PublicKeyIndexKey(public_key_der)));
          return absl::OkStatus();
        }));
    if (holder) {
      return refuse("this public key already belongs to a credential");
    }
    auto wrapped = keys_.ImportUserKey(alg, SecretBytes(wrapped_blob));
    if (!wrapped.ok()) {
      if (!absl::IsInvalidArgument(wrapped.status())) return wrapped.status();
      return refuse(wrapped.status().message());
    }
    // The key must be the one the public key names: it signs a fresh
    // challenge inside the HSM, checked here.
    ASSIGN_OR_RETURN(std::string challenge, RandomBytes(64));
    std::string digest = crypto::Digest(scheme.hash, challenge);
    ASSIGN_OR_RETURN(std::unique_ptr<hsm::ActiveKey> active,
                     keys_.Activate(alg, *wrapped));
    ASSIGN_OR_RETURN(std::string sig, active->Sign(scheme, digest));
    active.reset();
    auto verifier = crypto::NewVerifier(public_key_der, scheme);
    if (!verifier.ok() || !(*verifier)->VerifyDigest(digest, sig).ok()) {
      return refuse(
          "the uploaded key does not match the public key sent with it");
    }
    hsm::WrappedKey key{std::string(public_key_der), *std::move(wrapped)};
    ASSIGN_OR_RETURN(std::string id,
                     credentials_.ImportCredential(
                         s.user, alg, key, sam::Factors{s.pin, {}}, Ctx(s)));
    RETURN_IF_ERROR(Log(
        Event{"enroll.key_import",
              {{"credential", id},
               {"enrollment", s.enrollment_id},
               {"public_key_sha256", HexEncode(crypto::Sha256(public_key_der))},
               {"result", "ok"},
               {"format", "CKM_RSA_AES_KEY_WRAP (RSA-OAEP-SHA1 + AES-KWP)"}}}));
    return FinishKey(s, id, "upload", alg, Step::kReceipt);
  });
}

absl::Status EnrollmentService::PrepareDelivery(const SecretBytes& token,
                                                crypto::KeyAlgorithm alg,
                                                const SecretBytes& password) {
  return WithSession(token, {Step::kKey}, [&](Session& s) -> absl::Status {
    if (static_cast<int>(password.size()) < options_.min_p12_password_length) {
      return absl::InvalidArgumentError(
          absl::StrCat("the file's password needs at least ",
                       options_.min_p12_password_length, " characters"));
    }
    ASSIGN_OR_RETURN(hsm::KeyStore::DeliveredKey made,
                     keys_.GenerateForDelivery(alg));
    ASSIGN_OR_RETURN(std::string pub, crypto::PublicKeyOfPkcs8(made.pkcs8));
    if (pub != made.public_key_der) {
      return absl::InternalError("the delivered key is not the one made");
    }
    ASSIGN_OR_RETURN(SecretBytes p12,
                     crypto::MakePkcs12(made.pkcs8, "", password,
                                        absl::StrCat("inkan ", s.user)));
    // made.pkcs8 is wiped as it goes out of scope.
    ASSIGN_OR_RETURN(std::string id,
                     credentials_.AddUserHeldCredential(
                         s.user, alg, made.public_key_der, s.pin, Ctx(s)));
    s.p12 = std::move(p12);
    return FinishKey(s, id, "deliver", alg, Step::kDownload);
  });
}

absl::StatusOr<SecretBytes> EnrollmentService::TakeDelivery(
    const SecretBytes& token) {
  SecretBytes out;
  RETURN_IF_ERROR(
      WithSession(token, {Step::kDownload}, [&](Session& s) -> absl::Status {
        if (s.p12.empty()) {
          return absl::FailedPreconditionError(
              "the key file was already handed out once");
        }
        std::string p12_sha = HexEncode(crypto::Sha256(s.p12.RevealString()));
        out = std::move(s.p12);
        s.p12 = SecretBytes();
        s.step = Step::kReceipt;
        RETURN_IF_ERROR(Log(Event{"enroll.key_delivered",
                                  {{"credential", s.credential_id},
                                   {"enrollment", s.enrollment_id},
                                   {"format", "PKCS#12 (AES-256, PBKDF2)"},
                                   {"file_sha256", p12_sha}}}));
        return Log(Event{"enroll.key_erased",
                         {{"credential", s.credential_id},
                          {"enrollment", s.enrollment_id},
                          {"hsm_objects",
                           "none kept (session objects destroyed at "
                           "generation)"},
                          {"memory", "key and file wiped after this delivery"},
                          {"disk", "never written"}}});
      }));
  return out;
}

absl::Status EnrollmentService::ConfirmReceipt(const SecretBytes& token) {
  return WithSession(token, {Step::kReceipt}, [&](Session& s) -> absl::Status {
    RETURN_IF_ERROR(audit::RunAudited(
        store_, log_, [&](storage::Transaction& tx) -> absl::Status {
          RETURN_IF_ERROR(tx.PutMeta(
              storage::CredentialAwaitingReceiptKey(s.credential_id), ""));
          return log_.Append(tx, Event{"enroll.receipt",
                                       {{"credential", s.credential_id},
                                        {"enrollment", s.enrollment_id},
                                        {"path", s.path},
                                        {"user", s.user}}});
        }));
    auto der = issue_(s.credential_id, Ctx(s).actor);
    if (der.ok()) {
      s.certificate = *der;
    } else if (absl::IsFailedPrecondition(der.status())) {
      s.certificate_pending = true;
    } else {
      return der.status();
    }
    s.step = Step::kDone;
    return audit::RunAudited(
        store_, log_, [&](storage::Transaction& tx) -> absl::Status {
          ASSIGN_OR_RETURN(std::optional<std::string> text,
                           tx.GetMeta(MetaKey(s.enrollment_id)));
          if (text) {
            ASSIGN_OR_RETURN(Record r, Parse(*text));
            r.state = "completed";
            ASSIGN_OR_RETURN(std::string updated, Serialize(r));
            RETURN_IF_ERROR(tx.PutMeta(MetaKey(s.enrollment_id), updated));
          }
          return log_.Append(
              tx, Event{"enroll.complete",
                        {{"certificate",
                          s.certificate_pending ? "pending" : "issued"},
                         {"credential", s.credential_id},
                         {"enrollment", s.enrollment_id},
                         {"user", s.user}}});
        });
  });
}

}  // namespace inkan::enroll
