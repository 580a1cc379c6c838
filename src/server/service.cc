#include "server/service.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "ca/authority.h"
#include "common/clock.h"
#include "common/encoding.h"
#include "common/files.h"
#include "common/status_macros.h"

namespace inkan::server {

absl::StatusOr<absl::Duration> ParseWindow(absl::string_view text) {
  int64_t n = 0;
  if (text.size() >= 2 &&
      absl::SimpleAtoi(text.substr(0, text.size() - 1), &n) && n > 0) {
    switch (text.back()) {
      case 's':
        return absl::Seconds(n);
      case 'm':
        return absl::Minutes(n);
      case 'h':
        return absl::Hours(n);
      case 'd':
        return absl::Hours(24 * n);
    }
  }
  return absl::InvalidArgumentError(
      absl::StrCat("'", text, "' is not a duration (e.g. 90s, 15m, 8h, 2d)"));
}

std::string Service::ControlPath(const std::string& data_dir) {
  return absl::StrCat(data_dir, "/control.sock");
}

Service::Service(Instance& instance, const ServiceOptions& options)
    : instance_(instance),
      options_(options),
      control_path_(ControlPath(instance.dir())) {}

absl::StatusOr<std::unique_ptr<Service>> Service::Start(
    Instance& instance, const ServiceOptions& options) {
  std::unique_ptr<Service> svc(new Service(instance, options));
  svc->activation_ = std::make_unique<ca::CaActivation>(
      instance.ca(), RealClock(),
      ca::CaActivation::Options{options.max_activation, absl::Minutes(30)});
  svc->auth_ = std::make_unique<sam::AuthorizationService>(
      instance.store(), instance.log(), RealClock(), instance.credentials(),
      options.auth);
  svc->csc_ = std::make_unique<CscApi>(instance, *svc->auth_);
  ca::CaActivation* activation = svc->activation_.get();
  svc->enroll_ = std::make_unique<enroll::EnrollmentService>(
      instance.store(), instance.keys(), instance.log(), RealClock(),
      instance.credentials(), enroll::Options{},
      [activation](absl::string_view credential,
                   absl::string_view actor) -> absl::StatusOr<std::string> {
        std::string der;
        RETURN_IF_ERROR(activation->WithActive([&](ca::Authority& ca) {
          ASSIGN_OR_RETURN(storage::CertificateRecord rec,
                           ca.IssueForCredential(credential, "", actor));
          der = rec.der;
          return absl::OkStatus();
        }));
        return der;
      },
      [activation](absl::string_view spki) -> absl::StatusOr<std::string> {
        std::string der;
        RETURN_IF_ERROR(activation->WithActive([&](ca::Authority& ca) {
          ASSIGN_OR_RETURN(
              storage::CertificateRecord rec,
              ca.IssueTransportCertificate(spki, "enroll:transport"));
          der = rec.der;
          return absl::OkStatus();
        }));
        return der;
      });
  Instance* inst = &instance;
  svc->enroll_api_ = std::make_unique<EnrollApi>(
      *svc->enroll_, [inst] { return inst->ca().CaCertificate(); });
  if (!options.listen.empty()) {
    std::string cert = options.tls_cert_file.empty()
                           ? absl::StrCat(instance.dir(), "/tls/cert.pem")
                           : options.tls_cert_file;
    std::string key = options.tls_key_file.empty()
                          ? absl::StrCat(instance.dir(), "/tls/key.pem")
                          : options.tls_key_file;
    api::HttpsServerOptions https;
    https.listen = options.listen;
    https.threads = options.io_threads;
    auto chain = ReadFile(cert);
    if (!chain.ok()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "no TLS certificate at ", cert,
          ": issue one from inkan's CA with `inkan tls issue --name HOST`, or "
          "give --tls-cert and --tls-key"));
    }
    https.cert_chain_pem = *chain;
    ASSIGN_OR_RETURN(SecretBytes key_pem, ReadSecretFile(key));
    https.private_key_pem = std::string(key_pem.RevealString());
    CscApi* api = svc->csc_.get();
    EnrollApi* enroll = svc->enroll_api_.get();
    ASSIGN_OR_RETURN(svc->https_, api::HttpsServer::Start(
                                      std::move(https),
                                      [api, enroll](const api::HttpRequest& r) {
                                        if (EnrollApi::Owns(r.target)) {
                                          return enroll->Handle(r);
                                        }
                                        return api->Handle(r);
                                      }));
  }
  Service* self = svc.get();
  ASSIGN_OR_RETURN(svc->control_,
                   ControlServer::Start(svc->control_path_,
                                        [self](const ControlFields& request) {
                                          return self->Handle(request);
                                        }));
  svc->scheduler_ = std::thread([self] { self->Scheduler(); });
  return svc;
}

Service::~Service() { Stop(); }

void Service::Stop() {
  if (stopped_) return;
  stopped_ = true;
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  // In-flight requests finish first; new ones are refused.
  if (https_) https_->Shutdown(absl::Seconds(10));
  if (scheduler_.joinable()) scheduler_.join();
  control_.reset();
  if (activation_ != nullptr) (void)activation_->Deactivate("service stopping");
}

namespace {

std::string Get(const ControlFields& f, const std::string& key) {
  auto it = f.find(key);
  return it == f.end() ? "" : it->second;
}

ControlFields StateFields(const ca::CaActivation::State& s) {
  return {{"active", s.active ? "yes" : "no"},
          {"until", s.active ? FormatRfc3339(s.active_until) : ""},
          {"have", absl::StrCat(s.have)},
          {"need", absl::StrCat(s.need)},
          {"entered_by", absl::StrJoin(s.entered_by, ",")}};
}

}  // namespace

absl::StatusOr<ControlFields> Service::Handle(const ControlFields& request) {
  std::string op = Get(request, "op");
  std::string actor = Get(request, "actor");
  if (actor.empty()) actor = "control";
  if (op == "ca.activate") {
    ASSIGN_OR_RETURN(
        absl::Duration window,
        ParseWindow(Get(request, "window").empty() ? "8h"
                                                   : Get(request, "window")));
    SecretBytes share(Get(request, "share"));
    ASSIGN_OR_RETURN(ca::CaActivation::State s,
                     activation_->AddShare(share, window, actor));
    return StateFields(s);
  }
  if (op == "ca.deactivate") {
    RETURN_IF_ERROR(activation_->Deactivate(actor));
    return StateFields(activation_->Status());
  }
  if (op == "ca.status") return StateFields(activation_->Status());
  if (op == "cert.issue") {
    ControlFields out;
    RETURN_IF_ERROR(activation_->WithActive([&](ca::Authority& ca) {
      ASSIGN_OR_RETURN(storage::CertificateRecord rec,
                       ca.IssueForCredential(Get(request, "credential"),
                                             Get(request, "subject"), actor));
      out["serial"] = rec.serial_hex;
      out["certificate"] = Base64Encode(rec.der);
      return absl::OkStatus();
    }));
    return out;
  }
  if (op == "cert.revoke") {
    ASSIGN_OR_RETURN(ca::CrlReason reason,
                     ca::ParseCrlReason(Get(request, "reason")));
    RETURN_IF_ERROR(activation_->WithActive([&](ca::Authority& ca) {
      return ca.Revoke(Get(request, "serial"), reason, actor);
    }));
    return ControlFields{};
  }
  if (op == "tls.issue") {
    ControlFields out;
    ASSIGN_OR_RETURN(std::string spki,
                     Base64Decode(Get(request, "public_key")));
    std::vector<std::string> names =
        absl::StrSplit(Get(request, "names"), ',', absl::SkipEmpty());
    RETURN_IF_ERROR(activation_->WithActive([&](ca::Authority& ca) {
      ASSIGN_OR_RETURN(storage::CertificateRecord rec,
                       ca.IssueTlsCertificate(spki, names, actor));
      out["serial"] = rec.serial_hex;
      out["certificate"] = Base64Encode(rec.der);
      return absl::OkStatus();
    }));
    return out;
  }
  if (op == "ca.responder.renew") {
    ControlFields out;
    RETURN_IF_ERROR(activation_->WithActive([&](ca::Authority& ca) {
      ASSIGN_OR_RETURN(std::string der, ca.RenewResponder(actor));
      out["certificate"] = Base64Encode(der);
      return absl::OkStatus();
    }));
    return out;
  }
  if (op == "crl") {
    ControlFields out;
    RETURN_IF_ERROR(activation_->WithActive([&](ca::Authority& ca) {
      ASSIGN_OR_RETURN(std::string der, ca.IssueCrl(actor));
      out["crl"] = Base64Encode(der);
      return absl::OkStatus();
    }));
    return out;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown control operation '", op, "'"));
}

void Service::Scheduler() {
  absl::Time next_crl = absl::InfinitePast();
  bool was_active = false;
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      auto stop = [this]()
                      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_; };
      if (mu_.AwaitWithTimeout(absl::Condition(&stop), options_.tick)) return;
    }
    activation_->Tick();
    csc_->SweepConsents();
    (void)instance_.store().Transact(
        storage::TxMode::kReadWrite, [](storage::Transaction& tx) {
          return tx.DeleteExpiredGrants(absl::Now()).status();
        });
    bool active = activation_->Status().active;
    if (active && (!was_active || absl::Now() >= next_crl)) {
      // A fresh CRL when the key becomes active, then on the schedule.
      absl::Status st = activation_->WithActive(
          [](ca::Authority& ca) { return ca.IssueCrl("scheduler").status(); });
      next_crl = absl::Now() + options_.crl_interval;
      (void)st;  // logged by the CA when it succeeds; retried next interval
    }
    if (active) {
      // The responder certificate is short-lived (ocsp-nocheck): renew it
      // while the CA key is at hand, a month before it ends.
      auto status = instance_.ca().Status();
      if (status.ok() && status->responder_not_after != absl::InfinitePast() &&
          status->responder_not_after - absl::Now() < absl::Hours(24 * 30)) {
        (void)activation_->WithActive([](ca::Authority& ca) {
          return ca.RenewResponder("scheduler").status();
        });
      }
    }
    was_active = active;
  }
}

}  // namespace inkan::server
