#include "server/instance.h"

#include <openssl/pem.h>
#include <sys/stat.h>

#include <filesystem>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "audit/retention.h"
#include "common/clock.h"
#include "common/files.h"
#include "common/random.h"
#include "common/status_macros.h"
#include "crypto/signature_format.h"
#include "crypto/ssl_ptr.h"
#include "enroll/enrollment.h"
#include "hsm/pkcs11_key_store.h"
#include "hsm/softhsm.h"
#include "hsm/software_key_store.h"

namespace inkan::server {
namespace {

constexpr char kConfFile[] = "inkan.conf";
constexpr char kDbFile[] = "inkan.db";
constexpr char kHsmDir[] = "hsm";
constexpr char kAuditKeyFile[] = "audit-key.pem";
constexpr char kSoftwareKeyFile[] = "software-keys";
constexpr char kDefaultToken[] = "inkan";

std::string Join(const std::string& dir, absl::string_view name) {
  if (!name.empty() && name[0] == '/') return std::string(name);
  return absl::StrCat(dir, "/", name);
}

}  // namespace

absl::StatusOr<std::unique_ptr<hsm::KeyStore>> OpenKeys(
    const std::string& dir, const std::map<std::string, std::string>& conf) {
  auto get = [&](const std::string& k) {
    auto it = conf.find(k);
    return it == conf.end() ? std::string() : it->second;
  };
  std::string backend = get("backend");
  if (backend == "software") {
    return hsm::OpenSoftwareKeyStore(Join(dir, get("software.key_file")));
  }
  if (backend != "pkcs11") {
    return absl::InvalidArgumentError(
        absl::StrCat(kConfFile, ": backend must be pkcs11 or software, not '",
                     backend, "'"));
  }
  if (!get("softhsm.dir").empty()) {
    RETURN_IF_ERROR(hsm::UseSoftHsmDir(Join(dir, get("softhsm.dir"))));
  }
  hsm::Pkcs11Options opts;
  opts.module_path = get("pkcs11.module");
  opts.token_label = get("pkcs11.token");
  ASSIGN_OR_RETURN(opts.user_pin,
                   ReadSecretFile(Join(dir, get("pkcs11.pin_file"))));
  return hsm::OpenPkcs11KeyStore(opts);
}

absl::StatusOr<std::map<std::string, std::string>> ParseConf(
    absl::string_view text) {
  std::map<std::string, std::string> out;
  int n = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++n;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line[0] == '#') continue;
    size_t eq = line.find('=');
    if (eq == absl::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat(kConfFile, " line ", n, ": expected key = value"));
    }
    out[std::string(absl::StripAsciiWhitespace(line.substr(0, eq)))] =
        std::string(absl::StripAsciiWhitespace(line.substr(eq + 1)));
  }
  return out;
}

absl::Status Instance::Init(const std::string& dir,
                            const InitOptions& options) {
  if (dir.empty())
    return absl::InvalidArgumentError(
        "no data directory given (--data or INKAN_DATA)");
  std::error_code ec;
  bool existed = std::filesystem::exists(dir, ec);
  if (existed) {
    if (PathExists(Join(dir, kConfFile))) {
      return absl::AlreadyExistsError(absl::StrCat(
          dir, " already holds an inkan instance; refusing to overwrite it"));
    }
    if (!std::filesystem::is_directory(dir, ec) ||
        !std::filesystem::is_empty(dir, ec)) {
      return absl::AlreadyExistsError(absl::StrCat(
          dir, " exists and is not an empty directory; refusing to use it"));
    }
  }
  if (options.quorum < 2 || options.quorum > 255) {
    return absl::InvalidArgumentError("--quorum must be from 2 to 255");
  }
  if (options.backend != "pkcs11" && options.backend != "software") {
    return absl::InvalidArgumentError("--backend must be pkcs11 or software");
  }
  RETURN_IF_ERROR(MakeDirs(dir, 0700));
  if (existed && ::chmod(dir.c_str(), 0700) != 0) {
    return absl::PermissionDeniedError(absl::StrCat("cannot chmod 0700 ", dir));
  }
  // Undo everything on failure: a half-made data directory is worse than none.
  auto cleanup = [&](absl::Status st) {
    if (existed) {
      // The non-throwing forms only: no exception may leave this function.
      std::filesystem::directory_iterator it(dir, ec), end;
      while (!ec && it != end) {
        std::filesystem::remove_all(it->path(), ec);
        it.increment(ec);
      }
      ::chmod(dir.c_str(), 0700);
    } else {
      std::filesystem::remove_all(dir, ec);
    }
    return st;
  };

  ASSIGN_OR_RETURN(std::string instance_id, RandomHexId(8));
  std::map<std::string, std::string> conf;
  conf["instance_id"] = instance_id;
  conf["log_id"] = absl::StrCat("inkan/", instance_id);
  conf["backend"] = options.backend;
  if (options.backend == "software") {
    conf["software.key_file"] = kSoftwareKeyFile;
  } else if (options.pkcs11_module.empty()) {
    conf["pkcs11.module"] = hsm::DefaultSoftHsmModule();
    conf["pkcs11.token"] = kDefaultToken;
    conf["pkcs11.pin_file"] = absl::StrCat(kHsmDir, "/user.pin");
    conf["softhsm.dir"] = kHsmDir;
    std::string hsm_dir = Join(dir, kHsmDir);
    if (auto st = hsm::UseSoftHsmDir(hsm_dir); !st.ok()) return cleanup(st);
    if (auto st = hsm::CreateSoftHsmToken(hsm_dir, conf["pkcs11.module"],
                                          kDefaultToken);
        !st.ok()) {
      return cleanup(st);
    }
  } else {
    if (options.token_label.empty() || options.pin_file.empty()) {
      return cleanup(absl::InvalidArgumentError(
          "--pkcs11-module needs --token-label and --pin-file"));
    }
    conf["pkcs11.module"] = options.pkcs11_module;
    conf["pkcs11.token"] = options.token_label;
    std::filesystem::path pin_file =
        std::filesystem::absolute(options.pin_file, ec);
    if (ec) {
      return cleanup(absl::InvalidArgumentError(
          absl::StrCat("--pin-file ", options.pin_file, ": ", ec.message())));
    }
    conf["pkcs11.pin_file"] = pin_file.string();
  }

  auto keys = OpenKeys(dir, conf);
  if (!keys.ok()) return cleanup(keys.status());
  if (options.use_existing_keys) {
    if (options.pkcs11_module.empty()) {
      return cleanup(absl::InvalidArgumentError(
          "--use-existing-keys goes with --pkcs11-module (a token inkan set up "
          "before)"));
    }
    if (auto st = (*keys)->CheckSystemKeys(); !st.ok()) return cleanup(st);
  } else if (auto st = (*keys)->Initialize(); !st.ok()) {
    return cleanup(st);
  }
  auto signer = (*keys)->AuditSigner();
  if (!signer.ok()) return cleanup(signer.status());
  auto pem = crypto::SpkiDerToPem((*signer)->public_key_der());
  if (!pem.ok()) return cleanup(pem.status());
  if (auto st = WriteFileAtomic(Join(dir, kAuditKeyFile), *pem, 0644);
      !st.ok()) {
    return cleanup(st);
  }
  auto store = storage::OpenSqliteStore(Join(dir, kDbFile));
  if (!store.ok()) return cleanup(store.status());
  audit::AuditLog log(**signer, conf["log_id"], RealClock());
  absl::Status st = audit::RunAudited(
      **store, log, [&](storage::Transaction& tx) -> absl::Status {
        RETURN_IF_ERROR(tx.PutMeta("instance_id", instance_id));
        RETURN_IF_ERROR(tx.PutMeta("log_id", conf["log_id"]));
        RETURN_IF_ERROR(
            tx.PutMeta("ceremony.quorum", absl::StrCat(options.quorum)));
        return log.Append(tx,
                          audit::Event{"system.init",
                                       {{"actor", "cli"},
                                        {"instance_id", instance_id},
                                        {"backend", options.backend},
                                        {"provisional", (*keys)->provisional()},
                                        {"token", conf["pkcs11.token"]},
                                        {"module", conf["pkcs11.module"]},
                                        {"quorum", int64_t{options.quorum}}}});
      });
  if (!st.ok()) return cleanup(st);
  for (const auto& [k, v] : options.policy) {
    st = sam::SetPolicy(**store, log, k, v, "cli:init");
    if (!st.ok()) return cleanup(st);
  }
  std::string text = "# inkan configuration, written by `inkan init`.\n";
  for (const auto& [k, v] : conf) absl::StrAppend(&text, k, " = ", v, "\n");
  // Written last: its presence marks a complete data directory.
  st = WriteFileAtomic(Join(dir, kConfFile), text, 0600);
  if (!st.ok()) return cleanup(st);
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<Instance>> Instance::Open(
    const std::string& dir) {
  if (dir.empty())
    return absl::InvalidArgumentError(
        "no data directory given (--data or INKAN_DATA)");
  auto text = ReadFile(Join(dir, kConfFile));
  if (absl::IsNotFound(text.status())) {
    return absl::FailedPreconditionError(absl::StrCat(
        dir, " is not an inkan data directory (run `inkan init --data ", dir,
        "`)"));
  }
  if (!text.ok()) return text.status();
  std::unique_ptr<Instance> self(new Instance());
  self->dir_ = dir;
  ASSIGN_OR_RETURN(self->conf_, ParseConf(*text));
  self->log_id_ = self->conf_["log_id"];
  ASSIGN_OR_RETURN(self->keys_, OpenKeys(dir, self->conf_));
  RETURN_IF_ERROR(self->keys_->CheckSystemKeys());
  ASSIGN_OR_RETURN(self->store_, storage::OpenSqliteStore(Join(dir, kDbFile)));
  ASSIGN_OR_RETURN(const crypto::Signer* signer, self->keys_->AuditSigner());
  self->log_ =
      std::make_unique<audit::AuditLog>(*signer, self->log_id_, RealClock());
  self->ceremonies_ = std::make_unique<ceremony::Ceremonies>(
      *self->store_, *self->log_, RealClock());
  // Ceremonies run only on an intact log, checked with the key pinned at init.
  ASSIGN_OR_RETURN(std::string audit_key_der, self->PinnedAuditKeyDer());
  ASSIGN_OR_RETURN(
      self->audit_key_,
      crypto::NewVerifier(audit_key_der, {crypto::KeyAlgorithm::kEcP256,
                                          crypto::HashAlgorithm::kSha256}));
  self->ceremonies_->SetAuditKey(self->audit_key_.get());
  std::string module = self->conf_["pkcs11.module"];
  self->tokens_ = std::make_unique<hsm::TokenAccess>(
      module.empty() ? hsm::DefaultSoftHsmModule() : module);
  ca::RegisterCaOperations(*self->ceremonies_, *self->keys_, *self->log_,
                           RealClock(), *self->tokens_);
  enroll::RegisterOperations(*self->ceremonies_, *self->store_, *self->keys_,
                             *self->log_, RealClock());
  // Retention periods, once the quorum is in place (R5).
  {
    ceremony::OperationSpec retention;
    retention.name = "retention.set";
    retention.summary =
        "set how long records are kept: audit_years, auth_years (each 7..100; "
        "either may be left out)";
    auto parse = [](const ceremony::Params& p, audit::RetentionPolicy base)
        -> absl::StatusOr<audit::RetentionPolicy> {
      for (const char* k : {"audit_years", "auth_years"}) {
        auto v = ceremony::FindParam(p, k);
        if (!v) continue;
        int years = 0;
        if (!absl::SimpleAtoi(*v, &years)) {
          return absl::InvalidArgumentError(
              absl::StrCat(k, " is a number of years"));
        }
        (std::string(k) == "audit_years" ? base.audit_years : base.auth_years) =
            years;
      }
      RETURN_IF_ERROR(audit::ValidateRetention(base));
      return base;
    };
    retention.validate = [parse](const ceremony::Params& p) {
      return parse(p, audit::RetentionPolicy{}).status();
    };
    const audit::AuditLog* log = self->log_.get();
    retention.execute =
        [parse, log](storage::Transaction& tx, const ceremony::Params& p,
                     absl::string_view actor) -> absl::StatusOr<std::string> {
      ASSIGN_OR_RETURN(audit::RetentionPolicy now, audit::LoadRetention(tx));
      ASSIGN_OR_RETURN(audit::RetentionPolicy next, parse(p, now));
      RETURN_IF_ERROR(audit::SetRetention(tx, *log, next, actor));
      return absl::StrCat("retention: audit ", next.audit_years,
                          " years, authentication ", next.auth_years, " years");
    };
    self->ceremonies_->Register(std::move(retention));
  }
  self->ca_ = std::make_unique<ca::Authority>(*self->store_, *self->keys_,
                                              *self->log_, RealClock());
  self->credentials_ = std::make_unique<sam::CredentialService>(
      *self->store_, *self->keys_, *self->log_, RealClock());
  return self;
}

absl::StatusOr<std::string> Instance::PinnedAuditKeyDer() const {
  ASSIGN_OR_RETURN(std::string pem, ReadFile(Join(dir_, kAuditKeyFile)));
  crypto::BioPtr bio(BIO_new_mem_buf(pem.data(), pem.size()));
  crypto::EvpPkeyPtr key(
      PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
  if (!key)
    return absl::DataLossError(
        absl::StrCat(kAuditKeyFile, " does not hold a public key"));
  unsigned char* der = nullptr;
  int len = i2d_PUBKEY(key.get(), &der);
  if (len <= 0) return absl::InternalError("i2d_PUBKEY failed");
  std::string out(reinterpret_cast<char*>(der), len);
  OPENSSL_free(der);
  return out;
}

}  // namespace inkan::server
