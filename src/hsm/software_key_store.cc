#include "hsm/software_key_store.h"

#include <openssl/hmac.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "common/encoding.h"
#include "common/files.h"
#include "common/random.h"
#include "common/status_macros.h"
#include "crypto/aead.h"
#include "crypto/software_signer.h"

namespace inkan::hsm {
namespace {

using crypto::KeyAlgorithm;

struct SystemKeys {
  SecretBytes kek;
  SecretBytes pepper;
  std::unique_ptr<crypto::Signer> audit;
};

std::string WrapAad(KeyAlgorithm alg) {
  return absl::StrCat("inkan-software-wrap-v1:", crypto::KeyAlgorithmName(alg));
}

class SoftwareActiveKey : public ActiveKey {
 public:
  SoftwareActiveKey(KeyAlgorithm alg,
                    std::unique_ptr<crypto::SoftwarePrivateKey> key)
      : alg_(alg), key_(std::move(key)) {}
  absl::StatusOr<std::string> Sign(const crypto::SignatureScheme& scheme,
                                   absl::string_view digest) override {
    return key_->Sign(scheme, digest);
  }
  KeyAlgorithm algorithm() const override { return alg_; }

 private:
  KeyAlgorithm alg_;
  std::unique_ptr<crypto::SoftwarePrivateKey> key_;
};

class SoftwareKeyStore : public KeyStore {
 public:
  explicit SoftwareKeyStore(std::string path) : path_(std::move(path)) {}

  absl::string_view backend() const override { return "software"; }
  bool provisional() const override { return true; }

  absl::Status Initialize() override {
    if (PathExists(path_)) {
      return absl::AlreadyExistsError(
          absl::StrCat("software key file ", path_, " exists"));
    }
    ASSIGN_OR_RETURN(SecretBytes kek, RandomSecret(32));
    ASSIGN_OR_RETURN(SecretBytes pepper, RandomSecret(32));
    ASSIGN_OR_RETURN(SecretBytes audit,
                     crypto::GenerateSoftwareKey(KeyAlgorithm::kEcP256));
    std::string text = absl::StrCat(
        "# inkan software key store (PROVISIONAL: keys are not in an HSM)\n",
        "kek ", HexEncode(kek.RevealString()), "\npepper ",
        HexEncode(pepper.RevealString()), "\naudit ",
        HexEncode(audit.RevealString()), "\n");
    absl::Status st = WriteFileAtomic(path_, text, 0600);
    CleanseMemory(text.data(), text.size());
    return st;
  }

  absl::Status CheckSystemKeys() override { return Load().status(); }

  absl::StatusOr<WrappedKey> GenerateWrappedKey(KeyAlgorithm alg) override {
    ASSIGN_OR_RETURN(const SystemKeys* keys, Load());
    ASSIGN_OR_RETURN(SecretBytes pkcs8, crypto::GenerateSoftwareKey(alg));
    ASSIGN_OR_RETURN(auto signer, crypto::NewSoftwareSigner(
                                      pkcs8, {alg, crypto::DefaultHash(alg)}));
    WrappedKey out;
    out.public_key_der = signer->public_key_der();
    ASSIGN_OR_RETURN(std::string wrapped,
                     crypto::AeadSeal(keys->kek, pkcs8, WrapAad(alg)));
    out.wrapped = SecretBytes(wrapped);
    return out;
  }

  absl::StatusOr<std::unique_ptr<ActiveKey>> Activate(
      KeyAlgorithm alg, const SecretBytes& wrapped) override {
    ASSIGN_OR_RETURN(const SystemKeys* keys, Load());
    auto pkcs8 =
        crypto::AeadOpen(keys->kek, wrapped.RevealString(), WrapAad(alg));
    if (!pkcs8.ok()) {
      return absl::InvalidArgumentError(
          "wrapped key was not made by this key store's KEK");
    }
    ASSIGN_OR_RETURN(auto key, crypto::ParseSoftwarePrivateKey(*pkcs8, alg));
    return std::make_unique<SoftwareActiveKey>(alg, std::move(key));
  }

  absl::StatusOr<DeliveredKey> GenerateForDelivery(KeyAlgorithm alg) override {
    ASSIGN_OR_RETURN(SecretBytes pkcs8, crypto::GenerateSoftwareKey(alg));
    ASSIGN_OR_RETURN(auto key, crypto::ParseSoftwarePrivateKey(pkcs8, alg));
    return DeliveredKey{key->public_key_der(), std::move(pkcs8)};
  }

  absl::StatusOr<WrappedKey> GenerateKeyWrappedUnder(
      KeyAlgorithm alg, const SecretBytes& kek) override {
    if (kek.size() != 32)
      return absl::InvalidArgumentError("a KEK is 32 bytes (AES-256)");
    ASSIGN_OR_RETURN(SecretBytes pkcs8, crypto::GenerateSoftwareKey(alg));
    ASSIGN_OR_RETURN(auto key, crypto::ParseSoftwarePrivateKey(pkcs8, alg));
    WrappedKey out;
    out.public_key_der = key->public_key_der();
    ASSIGN_OR_RETURN(std::string wrapped,
                     crypto::AeadSeal(kek, pkcs8, WrapAad(alg)));
    out.wrapped = SecretBytes(wrapped);
    return out;
  }

  absl::StatusOr<std::unique_ptr<ActiveKey>> ActivateWithKek(
      KeyAlgorithm alg, const SecretBytes& wrapped,
      const SecretBytes& kek) override {
    if (kek.size() != 32)
      return absl::InvalidArgumentError("a KEK is 32 bytes (AES-256)");
    auto pkcs8 = crypto::AeadOpen(kek, wrapped.RevealString(), WrapAad(alg));
    if (!pkcs8.ok())
      return absl::InvalidArgumentError(
          "wrapped key was not made under this KEK");
    ASSIGN_OR_RETURN(auto key, crypto::ParseSoftwarePrivateKey(*pkcs8, alg));
    return std::make_unique<SoftwareActiveKey>(alg, std::move(key));
  }

  absl::StatusOr<SecretBytes> Pepper(const SecretBytes& input) override {
    ASSIGN_OR_RETURN(const SystemKeys* keys, Load());
    SecretBytes out(32);
    unsigned int len = 32;
    if (HMAC(EVP_sha256(), keys->pepper.Reveal().data(), keys->pepper.size(),
             input.Reveal().data(), input.size(), out.MutableData(),
             &len) == nullptr) {
      return absl::InternalError("HMAC failed");
    }
    return out;
  }

  absl::StatusOr<const crypto::Signer*> AuditSigner() override {
    ASSIGN_OR_RETURN(const SystemKeys* keys, Load());
    return keys->audit.get();
  }

 private:
  absl::StatusOr<const SystemKeys*> Load() {
    absl::MutexLock lock(&mu_);
    if (keys_) return keys_.get();
    auto text = ReadFile(path_);
    if (absl::IsNotFound(text.status())) {
      return absl::FailedPreconditionError(
          absl::StrCat("software key store ", path_,
                       " was not initialised by `inkan init`"));
    }
    if (!text.ok()) return text.status();
    auto keys = std::make_unique<SystemKeys>();
    SecretBytes audit;
    for (absl::string_view line : absl::StrSplit(*text, '\n')) {
      std::pair<absl::string_view, absl::string_view> kv =
          absl::StrSplit(line, ' ');
      if (kv.first.empty() || kv.first[0] == '#') continue;
      auto bytes = HexDecode(kv.second);
      if (!bytes.ok())
        return absl::DataLossError(absl::StrCat(path_, " is corrupt"));
      SecretBytes value(*bytes);
      CleanseMemory(bytes->data(), bytes->size());
      if (kv.first == "kek") keys->kek = std::move(value);
      if (kv.first == "pepper") keys->pepper = std::move(value);
      if (kv.first == "audit") audit = std::move(value);
    }
    CleanseMemory(text->data(), text->size());
    if (keys->kek.size() != 32 || keys->pepper.size() != 32 || audit.empty()) {
      return absl::DataLossError(absl::StrCat(path_, " is missing keys"));
    }
    ASSIGN_OR_RETURN(keys->audit, crypto::NewSoftwareSigner(
                                      audit, {KeyAlgorithm::kEcP256,
                                              crypto::HashAlgorithm::kSha256}));
    keys_ = std::move(keys);
    return keys_.get();
  }

  const std::string path_;
  absl::Mutex mu_;
  std::unique_ptr<SystemKeys> keys_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

absl::StatusOr<std::unique_ptr<KeyStore>> OpenSoftwareKeyStore(
    const std::string& key_file) {
  return std::make_unique<SoftwareKeyStore>(key_file);
}

}  // namespace inkan::hsm
