// Contract tests for both KeyStore backends (software and PKCS#11 on a real
// SoftHSMv2 token), then PKCS#11-only checks of the objects on the token.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <thread>

#include "common/encoding.h"
#include "common/files.h"
#include "crypto/digest.h"
#include "crypto/key_transport.h"
#include "crypto/signer.h"
#include "crypto/software_signer.h"
#include "hsm/pkcs11_key_store.h"
#include "hsm/pkcs11_module.h"
#include "hsm/softhsm.h"
#include "hsm/software_key_store.h"

namespace inkan::hsm {
namespace {

using crypto::HashAlgorithm;
using crypto::KeyAlgorithm;
using crypto::RsaPadding;
using crypto::SignatureScheme;

std::string TempDir() {
  char tmpl[] = "/tmp/inkan-hsm-test-XXXXXX";
  return mkdtemp(tmpl);
}

// One SoftHSM configuration per process; one fresh token per test.
const std::string& SoftHsmDir() {
  static const std::string* dir = [] {
    auto* d = new std::string(TempDir());
    EXPECT_TRUE(UseSoftHsmDir(*d).ok());
    return d;
  }();
  return *dir;
}

struct Made {
  std::unique_ptr<KeyStore> store;
  std::string label;
  SecretBytes pin;
};

Made NewPkcs11Store() {
  static int counter = 0;
  std::string label = "test-" + std::to_string(++counter);
  std::string pin_dir = SoftHsmDir() + "/" + label;
  EXPECT_TRUE(MakeDirs(pin_dir, 0700).ok());
  absl::Status st = CreateSoftHsmToken(pin_dir, DefaultSoftHsmModule(), label);
  EXPECT_TRUE(st.ok()) << st;
  Pkcs11Options opts;
  opts.module_path = DefaultSoftHsmModule();
  opts.token_label = label;
  opts.user_pin = *ReadSecretFile(pin_dir + "/user.pin");
  auto store = OpenPkcs11KeyStore(opts);
  EXPECT_TRUE(store.ok()) << store.status();
  return {std::move(*store), label, opts.user_pin};
}

Made NewSoftwareStore() {
  auto store = OpenSoftwareKeyStore(TempDir() + "/keys");
  EXPECT_TRUE(store.ok());
  return {std::move(*store), "", SecretBytes()};
}

enum class Backend { kSoftware, kPkcs11 };

class KeyStoreContractTest : public testing::TestWithParam<Backend> {
 protected:
  Made Make() {
    return GetParam() == Backend::kPkcs11 ? NewPkcs11Store()
                                          : NewSoftwareStore();
  }
};

TEST_P(KeyStoreContractTest, SystemKeysAreCreatedOnce) {
  Made m = Make();
  EXPECT_EQ(m.store->CheckSystemKeys().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(m.store->AuditSigner().status().code(),
            absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(m.store->Initialize().ok());
  EXPECT_TRUE(m.store->CheckSystemKeys().ok());
  EXPECT_EQ(m.store->Initialize().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(m.store->provisional(), GetParam() == Backend::kSoftware);
}

struct SchemeCase {
  KeyAlgorithm key;
  HashAlgorithm hash;
  RsaPadding padding;
};

std::vector<SchemeCase> AllSchemes() {
  return {
      {KeyAlgorithm::kEcP256, HashAlgorithm::kSha256, RsaPadding::kPkcs1},
      {KeyAlgorithm::kEcP384, HashAlgorithm::kSha384, RsaPadding::kPkcs1},
      {KeyAlgorithm::kRsa2048, HashAlgorithm::kSha256, RsaPadding::kPkcs1},
      {KeyAlgorithm::kRsa2048, HashAlgorithm::kSha256, RsaPadding::kPss},
      {KeyAlgorithm::kRsa3072, HashAlgorithm::kSha384, RsaPadding::kPss},
      {KeyAlgorithm::kRsa4096, HashAlgorithm::kSha512, RsaPadding::kPkcs1},
      {KeyAlgorithm::kEd25519, HashAlgorithm::kSha256, RsaPadding::kPkcs1},
  };
}

TEST_P(KeyStoreContractTest, GeneratedKeysSignForEveryAlgorithm) {
  Made m = Make();
  ASSERT_TRUE(m.store->Initialize().ok());
  for (const SchemeCase& c : AllSchemes()) {
    SCOPED_TRACE(crypto::KeyAlgorithmName(c.key));
    SignatureScheme scheme{c.key, c.hash, c.padding};
    auto wrapped = m.store->GenerateWrappedKey(c.key);
    if (GetParam() == Backend::kPkcs11 && c.key == KeyAlgorithm::kEd25519) {
      // SoftHSM 2.6.1 cannot wrap Ed25519 keys: a clear Unimplemented.
      EXPECT_EQ(wrapped.status().code(), absl::StatusCode::kUnimplemented);
      EXPECT_THAT(wrapped.status().message(),
                  testing::HasSubstr("cannot wrap ed25519"));
      continue;
    }
    ASSERT_TRUE(wrapped.ok()) << wrapped.status();
    EXPECT_FALSE(wrapped->wrapped.empty());
    auto active = m.store->Activate(c.key, wrapped->wrapped);
    ASSERT_TRUE(active.ok()) << active.status();
    std::string digest = crypto::Digest(c.hash, "a document");
    auto sig = (*active)->Sign(scheme, digest);
    ASSERT_TRUE(sig.ok()) << sig.status();
    auto verifier = crypto::NewVerifier(wrapped->public_key_der, scheme);
    ASSERT_TRUE(verifier.ok()) << verifier.status();
    EXPECT_TRUE((*verifier)->VerifyDigest(digest, *sig).ok());
    EXPECT_FALSE((*verifier)
                     ->VerifyDigest(crypto::Digest(c.hash, "another"), *sig)
                     .ok());
  }
}

TEST_P(KeyStoreContractTest, SignRejectsWrongSchemeAndDigestLength) {
  Made m = Make();
  ASSERT_TRUE(m.store->Initialize().ok());
  auto wrapped = m.store->GenerateWrappedKey(KeyAlgorithm::kEcP256);
  ASSERT_TRUE(wrapped.ok());
  auto active = m.store->Activate(KeyAlgorithm::kEcP256, wrapped->wrapped);
  ASSERT_TRUE(active.ok());
  EXPECT_EQ((*active)
                ->Sign({KeyAlgorithm::kRsa2048, HashAlgorithm::kSha256},
                       crypto::Sha256("x"))
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ((*active)
                ->Sign({KeyAlgorithm::kEcP256, HashAlgorithm::kSha256}, "short")
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_P(KeyStoreContractTest, TamperedOrForeignWrappedKeysAreRefused) {
  Made m = Make();
  Made other = Make();
  ASSERT_TRUE(m.store->Initialize().ok());
  ASSERT_TRUE(other.store->Initialize().ok());
  auto wrapped = m.store->GenerateWrappedKey(KeyAlgorithm::kEcP256);
  ASSERT_TRUE(wrapped.ok());
  std::string bad(wrapped->wrapped.RevealString());
  bad[bad.size() / 2] ^= 0x40;
  EXPECT_EQ(m.store->Activate(KeyAlgorithm::kEcP256, SecretBytes(bad))
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(other.store->Activate(KeyAlgorithm::kEcP256, wrapped->wrapped)
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
}

// The CA's path: a key wrapped under a KEK that lives outside the key store.
TEST_P(KeyStoreContractTest, KeysUnderAnOutsideKekNeedThatKek) {
  Made m = Make();
  ASSERT_TRUE(m.store->Initialize().ok());
  SecretBytes kek(std::string(32, '\x11'));
  SecretBytes other(std::string(32, '\x22'));
  for (KeyAlgorithm alg : {KeyAlgorithm::kEcP256, KeyAlgorithm::kRsa2048}) {
    auto wrapped = m.store->GenerateKeyWrappedUnder(alg, kek);
    ASSERT_TRUE(wrapped.ok()) << wrapped.status();
    // Not under the master KEK, and not under another KEK.
    EXPECT_FALSE(m.store->Activate(alg, wrapped->wrapped).ok());
    EXPECT_EQ(
        m.store->ActivateWithKek(alg, wrapped->wrapped, other).status().code(),
        absl::StatusCode::kInvalidArgument);
    auto active = m.store->ActivateWithKek(alg, wrapped->wrapped, kek);
    ASSERT_TRUE(active.ok()) << active.status();
    SignatureScheme scheme{alg, HashAlgorithm::kSha256};
    std::string digest = crypto::Sha256("root certificate");
    auto sig = (*active)->Sign(scheme, digest);
    ASSERT_TRUE(sig.ok());
    auto verifier = crypto::NewVerifier(wrapped->public_key_der, scheme);
    EXPECT_TRUE((*verifier)->VerifyDigest(digest, *sig).ok());
  }
  EXPECT_EQ(m.store
                ->GenerateKeyWrappedUnder(KeyAlgorithm::kEcP256,
                                          SecretBytes(std::string(16, 'k')))
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_P(KeyStoreContractTest, PepperIsDeterministicPerStoreAndSecretPerStore) {
  Made m = Make();
  Made other = Make();
  ASSERT_TRUE(m.store->Initialize().ok());
  ASSERT_TRUE(other.store->Initialize().ok());
  SecretBytes in(absl::string_view("argon2 output"));
  auto a = m.store->Pepper(in);
  auto b = m.store->Pepper(in);
  auto c = m.store->Pepper(SecretBytes(absl::string_view("other input")));
  auto d = other.store->Pepper(in);
  ASSERT_TRUE(a.ok() && b.ok() && c.ok() && d.ok());
  EXPECT_EQ(a->size(), 32u);
  EXPECT_TRUE(a->ConstantTimeEquals(*b));
  EXPECT_FALSE(a->ConstantTimeEquals(*c));
  EXPECT_FALSE(a->ConstantTimeEquals(*d));
}

TEST_P(KeyStoreContractTest, AuditSignerSignsWithItsPublicKey) {
  Made m = Make();
  ASSERT_TRUE(m.store->Initialize().ok());
  auto signer = m.store->AuditSigner();
  ASSERT_TRUE(signer.ok());
  auto sig = crypto::SignMessage(**signer, "checkpoint note");
  ASSERT_TRUE(sig.ok()) << sig.status();
  auto verifier =
      crypto::NewVerifier((*signer)->public_key_der(), (*signer)->scheme());
  ASSERT_TRUE(verifier.ok());
  EXPECT_TRUE(crypto::VerifyMessage(**verifier, (*signer)->scheme(),
                                    "checkpoint note", *sig)
                  .ok());
}

TEST_P(KeyStoreContractTest, ConcurrentActivationsAndSignatures) {
  Made m = Make();
  ASSERT_TRUE(m.store->Initialize().ok());
  auto wrapped = m.store->GenerateWrappedKey(KeyAlgorithm::kEcP256);
  ASSERT_TRUE(wrapped.ok());
  SignatureScheme scheme{KeyAlgorithm::kEcP256, HashAlgorithm::kSha256};
  auto verifier = crypto::NewVerifier(wrapped->public_key_der, scheme);
  std::atomic<int> good{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 25; ++i) {
        auto active =
            m.store->Activate(KeyAlgorithm::kEcP256, wrapped->wrapped);
        if (!active.ok()) continue;
        std::string d = crypto::Sha256(std::to_string(i));
        auto sig = (*active)->Sign(scheme, d);
        if (sig.ok() && (*verifier)->VerifyDigest(d, *sig).ok()) ++good;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(good.load(), 100);
}

INSTANTIATE_TEST_SUITE_P(Backends, KeyStoreContractTest,
                         testing::Values(Backend::kSoftware, Backend::kPkcs11),
                         [](const auto& info) {
                           return info.param == Backend::kPkcs11 ? "Pkcs11"
                                                                 : "Software";
                         });

// ---- PKCS#11 only: what is on the token -------------------------------------

class Pkcs11TokenTest : public testing::Test {
 protected:
  void SetUp() override {
    made_ = NewPkcs11Store();
    ASSERT_TRUE(made_.store->Initialize().ok());
    auto module = Pkcs11Module::Shared(DefaultSoftHsmModule());
    ASSERT_TRUE(module.ok());
    module_ = *module;
    auto slot = module_->FindTokenSlot(made_.label);
    ASSERT_TRUE(slot.ok());
    auto pool = SessionPool::Open(module_, *slot, made_.pin);
    ASSERT_TRUE(pool.ok());
    pool_ = std::move(*pool);
  }

  std::vector<CK_OBJECT_HANDLE> Find(CK_OBJECT_CLASS cls,
                                     std::optional<bool> token) {
    auto lease = pool_->Acquire();
    CK_FUNCTION_LIST* fn = module_->fn();
    CK_BBOOL tok = token.value_or(false) ? CK_TRUE : CK_FALSE;
    std::vector<CK_ATTRIBUTE> tmpl = {{CKA_CLASS, &cls, sizeof(cls)}};
    if (token) tmpl.push_back({CKA_TOKEN, &tok, sizeof(tok)});
    fn->C_FindObjectsInit(lease->get(), tmpl.data(), tmpl.size());
    CK_OBJECT_HANDLE found[64];
    CK_ULONG n = 0;
    fn->C_FindObjects(lease->get(), found, 64, &n);
    fn->C_FindObjectsFinal(lease->get());
    return {found, found + n};
  }

  CK_BBOOL Bool(CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_TYPE type) {
    auto lease = pool_->Acquire();
    auto v = GetAttribute(module_->fn(), lease->get(), obj, type);
    EXPECT_TRUE(v.ok()) << v.status();
    return v.ok() && v->size() == 1 ? (*v)[0] : 0xff;
  }

  CK_RV ReadValue(CK_OBJECT_HANDLE obj) {
    auto lease = pool_->Acquire();
    CK_BYTE buf[1024];
    CK_ATTRIBUTE a = {CKA_VALUE, buf, sizeof(buf)};
    return module_->fn()->C_GetAttributeValue(lease->get(), obj, &a, 1);
  }

  Made made_;
  std::shared_ptr<Pkcs11Module> module_;
  std::shared_ptr<SessionPool> pool_;
};

TEST_F(Pkcs11TokenTest, SystemKeysAreSensitiveAndNeverExtractable) {
  auto secrets = Find(CKO_SECRET_KEY, true);
  auto privates = Find(CKO_PRIVATE_KEY, true);
  ASSERT_EQ(secrets.size(), 2u);   // master KEK, pepper
  ASSERT_EQ(privates.size(), 1u);  // audit key
  for (CK_OBJECT_HANDLE h : secrets) {
    EXPECT_EQ(Bool(h, CKA_SENSITIVE), CK_TRUE);
    EXPECT_EQ(Bool(h, CKA_EXTRACTABLE), CK_FALSE);
    EXPECT_EQ(Bool(h, CKA_NEVER_EXTRACTABLE), CK_TRUE);
    EXPECT_EQ(ReadValue(h), static_cast<CK_RV>(CKR_ATTRIBUTE_SENSITIVE));
  }
  EXPECT_EQ(Bool(privates[0], CKA_SENSITIVE), CK_TRUE);
  EXPECT_EQ(Bool(privates[0], CKA_EXTRACTABLE), CK_FALSE);
}

TEST_F(Pkcs11TokenTest,
       UserKeysLeaveNoObjectBehindAndActiveKeysAreNonExtractable) {
  auto wrapped = made_.store->GenerateWrappedKey(KeyAlgorithm::kEcP256);
  ASSERT_TRUE(wrapped.ok());
  // Only the audit key is a private key on the token, and no session key is
  // left.
  EXPECT_EQ(Find(CKO_PRIVATE_KEY, std::nullopt).size(), 1u);
  EXPECT_EQ(Find(CKO_PUBLIC_KEY, false).size(), 0u);
  {
    auto active =
        made_.store->Activate(KeyAlgorithm::kEcP256, wrapped->wrapped);
    ASSERT_TRUE(active.ok());
    auto session_keys = Find(CKO_PRIVATE_KEY, false);
    ASSERT_EQ(session_keys.size(), 1u);
    CK_OBJECT_HANDLE k = session_keys[0];
    EXPECT_EQ(Bool(k, CKA_TOKEN), CK_FALSE);
    EXPECT_EQ(Bool(k, CKA_SENSITIVE), CK_TRUE);
    EXPECT_EQ(Bool(k, CKA_EXTRACTABLE), CK_FALSE);
    EXPECT_EQ(ReadValue(k), static_cast<CK_RV>(CKR_ATTRIBUTE_SENSITIVE));
    // The unwrapped key cannot be wrapped out again, not even under the KEK.
    auto lease = pool_->Acquire();
    auto kek = FindObject(module_->fn(), lease->get(), CKO_SECRET_KEY,
                          kMasterKekLabel);
    ASSERT_TRUE(kek.ok());
    CK_MECHANISM wrap = {CKM_AES_KEY_WRAP_PAD, nullptr, 0};
    CK_ULONG len = 0;
    EXPECT_EQ(
        module_->fn()->C_WrapKey(lease->get(), &wrap, *kek, k, nullptr, &len),
        static_cast<CK_RV>(CKR_KEY_UNEXTRACTABLE));
  }
  EXPECT_EQ(Find(CKO_PRIVATE_KEY, false).size(),
            0u);  // destroyed with the ActiveKey
}

// With the token PIN and a wrapped blob, an insider still cannot unwrap a
// user key into a readable object: the KEK's CKA_UNWRAP_TEMPLATE wins.
TEST_F(Pkcs11TokenTest, KekRefusesToUnwrapIntoAReadableKey) {
  auto wrapped = made_.store->GenerateWrappedKey(KeyAlgorithm::kEcP256);
  ASSERT_TRUE(wrapped.ok());
  auto lease = pool_->Acquire();
  ASSERT_TRUE(lease.ok());
  CK_FUNCTION_LIST* fn = module_->fn();
  auto kek = FindObject(fn, lease->get(), CKO_SECRET_KEY, kMasterKekLabel);
  ASSERT_TRUE(kek.ok());
  CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
  CK_KEY_TYPE kt = CKK_EC;
  CK_BBOOL t = CK_TRUE, f = CK_FALSE;
  CK_ATTRIBUTE tmpl[] = {{CKA_CLASS, &cls, sizeof(cls)},
                         {CKA_KEY_TYPE, &kt, sizeof(kt)},
                         {CKA_TOKEN, &f, 1},
                         {CKA_SENSITIVE, &f, 1},
                         {CKA_EXTRACTABLE, &t, 1}};
  CK_MECHANISM unwrap = {CKM_AES_KEY_WRAP_PAD, nullptr, 0};
  SecretBytes blob = wrapped->wrapped;
  CK_OBJECT_HANDLE key = CK_INVALID_HANDLE;
  CK_RV rv = fn->C_UnwrapKey(lease->get(), &unwrap, *kek, blob.MutableData(),
                             blob.size(), tmpl, 5, &key);
  EXPECT_NE(rv, static_cast<CK_RV>(CKR_OK));
  EXPECT_EQ(key, static_cast<CK_OBJECT_HANDLE>(CK_INVALID_HANDLE));
}

// Active keys hold no session: more of them than the pool has sessions, and
// audit signing and the pepper still get sessions (this used to deadlock).
TEST(Pkcs11PoolTest, MoreActiveKeysThanSessions) {
  Made m = NewPkcs11Store();
  ASSERT_TRUE(m.store->Initialize().ok());
  Pkcs11Options opts{DefaultSoftHsmModule(), m.label, m.pin, 2};
  auto small = OpenPkcs11KeyStore(opts);
  ASSERT_TRUE(small.ok());
  auto wrapped = (*small)->GenerateWrappedKey(KeyAlgorithm::kEcP256);
  ASSERT_TRUE(wrapped.ok());
  std::vector<std::unique_ptr<ActiveKey>> keys;
  for (int i = 0; i < 6; ++i) {
    auto k = (*small)->Activate(KeyAlgorithm::kEcP256, wrapped->wrapped);
    ASSERT_TRUE(k.ok()) << k.status();
    keys.push_back(std::move(*k));
  }
  SignatureScheme scheme{KeyAlgorithm::kEcP256, HashAlgorithm::kSha256};
  for (auto& k : keys) EXPECT_TRUE(k->Sign(scheme, crypto::Sha256("x")).ok());
  EXPECT_TRUE((*small)->Pepper(SecretBytes(absl::string_view("p"))).ok());
  auto audit = (*small)->AuditSigner();
  ASSERT_TRUE(audit.ok());
  EXPECT_TRUE(crypto::SignMessage(**audit, "note").ok());
}

// An ActiveKey keeps its pool alive: signing after the KeyStore is gone works
// and destroying the key afterwards is safe.
TEST(Pkcs11PoolTest, ActiveKeyMayOutliveItsKeyStore) {
  Made m = NewPkcs11Store();
  ASSERT_TRUE(m.store->Initialize().ok());
  auto wrapped = m.store->GenerateWrappedKey(KeyAlgorithm::kEcP256);
  ASSERT_TRUE(wrapped.ok());
  auto key = m.store->Activate(KeyAlgorithm::kEcP256, wrapped->wrapped);
  ASSERT_TRUE(key.ok());
  m.store.reset();
  EXPECT_TRUE((*key)
                  ->Sign({KeyAlgorithm::kEcP256, HashAlgorithm::kSha256},
                         crypto::Sha256("x"))
                  .ok());
  key->reset();
}

TEST_F(Pkcs11TokenTest, AnOutsideKekLeavesNoObjectBehind) {
  SecretBytes kek(std::string(32, '\x33'));
  auto wrapped =
      made_.store->GenerateKeyWrappedUnder(KeyAlgorithm::kEcP256, kek);
  ASSERT_TRUE(wrapped.ok());
  {
    auto active = made_.store->ActivateWithKek(KeyAlgorithm::kEcP256,
                                               wrapped->wrapped, kek);
    ASSERT_TRUE(active.ok());
    EXPECT_EQ(Find(CKO_SECRET_KEY, false).size(),
              0u);  // the KEK is gone already
    EXPECT_EQ(Find(CKO_PRIVATE_KEY, false).size(), 1u);  // the active key
  }
  EXPECT_EQ(Find(CKO_SECRET_KEY, false).size(), 0u);
  EXPECT_EQ(Find(CKO_PRIVATE_KEY, false).size(), 0u);
  EXPECT_EQ(Find(CKO_SECRET_KEY, true).size(),
            2u);  // only master KEK and pepper
}

// The token loses its login (an HSM restart, someone's C_Logout): the key
// store logs in again and refreshes the system keys' handles (SoftHSM
// invalidates private-object handles at logout) instead of failing for good.
TEST_F(Pkcs11TokenTest, LogsInAgainWhenTheTokenLosesItsLogin) {
  auto audit = made_.store->AuditSigner();
  ASSERT_TRUE(audit.ok());
  ASSERT_TRUE(crypto::SignMessage(**audit, "before").ok());
  auto wrapped = made_.store->GenerateWrappedKey(KeyAlgorithm::kEcP256);
  ASSERT_TRUE(wrapped.ok());
  {
    auto lease = pool_->Acquire();
    ASSERT_TRUE(lease.ok());
    ASSERT_EQ(module_->fn()->C_Logout(lease->get()),
              static_cast<CK_RV>(CKR_OK));
    // Logged out for real: private objects are out of sight.
    EXPECT_TRUE(absl::IsNotFound(
        FindObject(module_->fn(), lease->get(), CKO_SECRET_KEY, kMasterKekLabel)
            .status()));
  }
  auto pepper =
      made_.store->Pepper(SecretBytes(absl::string_view("after logout")));
  EXPECT_TRUE(pepper.ok()) << pepper.status();
  EXPECT_TRUE(crypto::SignMessage(**audit, "after").ok());
  auto active = made_.store->Activate(KeyAlgorithm::kEcP256, wrapped->wrapped);
  ASSERT_TRUE(active.ok()) << active.status();
  EXPECT_TRUE((*active)
                  ->Sign({KeyAlgorithm::kEcP256, HashAlgorithm::kSha256},
                         crypto::Sha256("x"))
                  .ok());
  // Logged out again: the audit signer alone must recover too.
  {
    auto lease = pool_->Acquire();
    ASSERT_EQ(module_->fn()->C_Logout(lease->get()),
              static_cast<CK_RV>(CKR_OK));
  }
  EXPECT_TRUE(crypto::SignMessage(**audit, "after again").ok());
}

TEST(Pkcs11OpenTest, WrongPinAndMissingModuleOrTokenAreClearErrors) {
  Made m = NewPkcs11Store();
  Pkcs11Options opts;
  opts.module_path = DefaultSoftHsmModule();
  opts.token_label = m.label;
  opts.user_pin = SecretBytes(absl::string_view("wrong-pin"));
  // A second login on an already logged-in token is a no-op in PKCS#11, so
  // check the wrong PIN against a token nobody in this process is logged in to.
  Made fresh = NewPkcs11Store();
  fresh.store.reset();
  opts.token_label = fresh.label;
  EXPECT_EQ(OpenPkcs11KeyStore(opts).status().code(),
            absl::StatusCode::kUnauthenticated);
  opts.token_label = "no-such-token";
  EXPECT_EQ(OpenPkcs11KeyStore(opts).status().code(),
            absl::StatusCode::kNotFound);
  opts.module_path = "/nonexistent/libpkcs11.so";
  EXPECT_EQ(OpenPkcs11KeyStore(opts).status().code(),
            absl::StatusCode::kNotFound);
}

// ---- The CA key: its own KEK, copies to a backup token ----

crypto::SignatureScheme P256() {
  return {KeyAlgorithm::kEcP256, HashAlgorithm::kSha256};
}

void ExpectSigns(KeyStore& keys, const SecretBytes& wrapped,
                 const std::string& spki) {
  auto active = keys.ActivateCaKey(KeyAlgorithm::kEcP256, wrapped);
  ASSERT_TRUE(active.ok()) << active.status();
  std::string digest(32, 'd');
  auto sig = (*active)->Sign(P256(), digest);
  ASSERT_TRUE(sig.ok()) << sig.status();
  auto verifier = crypto::NewVerifier(spki, P256());
  ASSERT_TRUE(verifier.ok());
  EXPECT_TRUE((*verifier)->VerifyDigest(digest, *sig).ok());
}

TEST_F(Pkcs11TokenTest, CaKeyMovesToABackupTokenAndBackOnlyThroughTransport) {
  KeyStore& primary = *made_.store;
  auto ca = primary.GenerateCaKey(KeyAlgorithm::kEcP256);
  ASSERT_TRUE(ca.ok()) << ca.status();
  ExpectSigns(primary, ca->wrapped, ca->public_key_der);
  // It is under the CA KEK, not the master KEK.
  EXPECT_FALSE(primary.Activate(KeyAlgorithm::kEcP256, ca->wrapped).ok());

  Made backup = NewPkcs11Store();  // a second token, never initialised
  auto transport = backup.store->NewTransportKey();
  ASSERT_TRUE(transport.ok()) << transport.status();
  auto blob = primary.ExportCaKey(KeyAlgorithm::kEcP256, ca->wrapped,
                                  (*transport)->public_key_der());
  ASSERT_TRUE(blob.ok()) << blob.status();
  auto on_backup = (*transport)->ImportCaKey(KeyAlgorithm::kEcP256, *blob);
  ASSERT_TRUE(on_backup.ok()) << on_backup.status();
  ExpectSigns(*backup.store, *on_backup, ca->public_key_der);
  // Each token's blob opens only under its own CA KEK.
  EXPECT_FALSE(primary.ActivateCaKey(KeyAlgorithm::kEcP256, *on_backup).ok());

  // A blob for one transport key does not open under another.
  auto other = backup.store->NewTransportKey();
  ASSERT_TRUE(other.ok());
  EXPECT_TRUE(absl::IsInvalidArgument(
      (*other)->ImportCaKey(KeyAlgorithm::kEcP256, *blob).status()));
  // A transport key shorter than 3072 bits, or not RSA, is refused.
  EXPECT_TRUE(absl::IsInvalidArgument(
      primary
          .ExportCaKey(KeyAlgorithm::kEcP256, ca->wrapped, ca->public_key_der)
          .status()));

  // No key object is left behind on either token by the moves.
  EXPECT_TRUE(Find(CKO_PRIVATE_KEY, false).empty());
  EXPECT_EQ(Find(CKO_SECRET_KEY, true).size(), 3u);  // + the CA KEK

  // Destroying the CA KEK voids every wrapped copy on this token.
  auto destroyed = primary.DestroyCaKek();
  ASSERT_TRUE(destroyed.ok());
  EXPECT_EQ(*destroyed, 1);
  EXPECT_TRUE(absl::IsFailedPrecondition(
      primary.ActivateCaKey(KeyAlgorithm::kEcP256, ca->wrapped).status()));
  EXPECT_EQ(*primary.DestroyCaKek(), 0);
  ExpectSigns(*backup.store, *on_backup, ca->public_key_der);
}

TEST_F(Pkcs11TokenTest, CaKekIsSensitiveNeverExtractableAndUnwrapsSensitive) {
  ASSERT_TRUE(made_.store->GenerateCaKey(KeyAlgorithm::kEcP256).ok());
  auto lease = pool_->Acquire();
  auto kek =
      FindObject(module_->fn(), lease->get(), CKO_SECRET_KEY, hsm::kCaKekLabel);
  ASSERT_TRUE(kek.ok());
  EXPECT_EQ(Bool(*kek, CKA_SENSITIVE), CK_TRUE);
  EXPECT_EQ(Bool(*kek, CKA_NEVER_EXTRACTABLE), CK_TRUE);
  EXPECT_EQ(Bool(*kek, CKA_EXTRACTABLE), CK_FALSE);
  EXPECT_NE(ReadValue(*kek), CKR_OK);
}

TEST_F(Pkcs11TokenTest, RecordsArePrivateDataObjectsThatReplaceAndGo) {
  KeyStore& keys = *made_.store;
  EXPECT_TRUE(absl::IsNotFound(keys.GetRecord("r").status()));
  ASSERT_TRUE(keys.PutRecord("r", "one").ok());
  ASSERT_TRUE(keys.PutRecord("r", "two").ok());
  EXPECT_EQ(*keys.GetRecord("r"), "two");
  auto data = Find(CKO_DATA, true);
  ASSERT_EQ(data.size(), 1u);
  EXPECT_EQ(Bool(data[0], CKA_PRIVATE), CK_TRUE);
  EXPECT_EQ(*keys.RemoveRecord("r"), 1);
  EXPECT_EQ(*keys.RemoveRecord("r"), 0);
  EXPECT_TRUE(Find(CKO_DATA, true).empty());
}

TEST(SoftwareKeyStoreCaTest, CannotExportTheCaKey) {
  Made m = NewSoftwareStore();
  ASSERT_TRUE(m.store->Initialize().ok());
  auto ca = m.store->GenerateCaKey(KeyAlgorithm::kEcP256);
  ASSERT_TRUE(ca.ok());
  EXPECT_TRUE(m.store->ActivateCaKey(KeyAlgorithm::kEcP256, ca->wrapped).ok());
  EXPECT_TRUE(absl::IsUnimplemented(m.store->NewTransportKey().status()));
  EXPECT_TRUE(absl::IsUnimplemented(
      m.store->ExportCaKey(KeyAlgorithm::kEcP256, ca->wrapped, "x").status()));
}

// ---- Keys made by their owners, sent wrapped (enrollment path B) ----

TEST_F(Pkcs11TokenTest, UserMadeKeyEntersOnlyThroughTheTransportKey) {
  KeyStore& keys = *made_.store;
  auto spki = keys.EnrollTransportKey();
  ASSERT_TRUE(spki.ok()) << spki.status();
  EXPECT_EQ(*keys.EnrollTransportKey(), *spki);  // made once, then kept

  auto pkcs8 = crypto::GenerateSoftwareKey(KeyAlgorithm::kEcP256);
  ASSERT_TRUE(pkcs8.ok());
  auto pub = crypto::PublicKeyOfPkcs8(*pkcs8);
  ASSERT_TRUE(pub.ok());
  auto blob = crypto::RsaAesKeyWrap(*spki, *pkcs8);
  ASSERT_TRUE(blob.ok()) << blob.status();
  // The blob does not carry the key in the clear.
  EXPECT_EQ(blob->find(std::string(pkcs8->RevealString())), std::string::npos);

  auto wrapped = keys.ImportUserKey(KeyAlgorithm::kEcP256, SecretBytes(*blob));
  ASSERT_TRUE(wrapped.ok()) << wrapped.status();
  auto active = keys.Activate(KeyAlgorithm::kEcP256, *wrapped);
  ASSERT_TRUE(active.ok()) << active.status();
  std::string digest(32, 'u');
  auto sig = (*active)->Sign(P256(), digest);
  ASSERT_TRUE(sig.ok());
  auto verifier = crypto::NewVerifier(*pub, P256());
  ASSERT_TRUE(verifier.ok());
  EXPECT_TRUE((*verifier)->VerifyDigest(digest, *sig).ok());
  active->reset();

  // A blob for another transport key, a cut or flipped blob: refused.
  Made other = NewPkcs11Store();
  ASSERT_TRUE(other.store->Initialize().ok());
  auto other_spki = other.store->EnrollTransportKey();
  ASSERT_TRUE(other_spki.ok());
  auto foreign = crypto::RsaAesKeyWrap(*other_spki, *pkcs8);
  ASSERT_TRUE(foreign.ok());
  EXPECT_TRUE(absl::IsInvalidArgument(
      keys.ImportUserKey(KeyAlgorithm::kEcP256, SecretBytes(*foreign))
          .status()));
  std::string flipped = *blob;
  flipped[flipped.size() - 3] ^= 1;
  EXPECT_FALSE(
      keys.ImportUserKey(KeyAlgorithm::kEcP256, SecretBytes(flipped)).ok());
  EXPECT_TRUE(absl::IsInvalidArgument(
      keys.ImportUserKey(KeyAlgorithm::kEcP256, SecretBytes("short"))
          .status()));

  // The transport key's private half can only unwrap, and never leaves; no
  // user key object is left behind.
  auto lease = pool_->Acquire();
  auto priv = FindObject(module_->fn(), lease->get(), CKO_PRIVATE_KEY,
                         hsm::kEnrollTransportLabel);
  ASSERT_TRUE(priv.ok());
  EXPECT_EQ(Bool(*priv, CKA_SENSITIVE), CK_TRUE);
  EXPECT_EQ(Bool(*priv, CKA_EXTRACTABLE), CK_FALSE);
  EXPECT_EQ(Bool(*priv, CKA_SIGN), CK_FALSE);
  EXPECT_EQ(Bool(*priv, CKA_DECRYPT), CK_FALSE);
  EXPECT_TRUE(Find(CKO_PRIVATE_KEY, false).empty());
}

// Enrollment path C brings a key out under a one-time KEK: the blob is the
// RFC 5649 wrap of the PKCS#8 key, which software opens.
TEST_F(Pkcs11TokenTest, KeyWrappedUnderAnOutsideKekOpensInSoftware) {
  SecretBytes kek(std::string(32, 'q'));
  auto made = made_.store->GenerateKeyWrappedUnder(KeyAlgorithm::kEcP256, kek);
  ASSERT_TRUE(made.ok()) << made.status();
  auto pkcs8 = crypto::AesKeyUnwrapPad(kek, made->wrapped.RevealString());
  ASSERT_TRUE(pkcs8.ok()) << pkcs8.status();
  auto pub = crypto::PublicKeyOfPkcs8(*pkcs8);
  ASSERT_TRUE(pub.ok()) << pub.status() << " (" << pkcs8->size()
                        << " bytes: " << HexEncode(pkcs8->RevealString())
                        << ")";
  EXPECT_EQ(*pub, made->public_key_der);
  EXPECT_FALSE(crypto::AesKeyUnwrapPad(SecretBytes(std::string(32, 'r')),
                                       made->wrapped.RevealString())
                   .ok());
  EXPECT_TRUE(Find(CKO_PRIVATE_KEY, false).empty());

  auto delivered = made_.store->GenerateForDelivery(KeyAlgorithm::kEcP256);
  ASSERT_TRUE(delivered.ok()) << delivered.status();
  EXPECT_EQ(*crypto::PublicKeyOfPkcs8(delivered->pkcs8),
            delivered->public_key_der);
  EXPECT_TRUE(Find(CKO_PRIVATE_KEY, false).empty());
  EXPECT_TRUE(Find(CKO_SECRET_KEY, false).empty());
}

TEST(SoftwareKeyStoreEnrollTest, HasNoTransportKey) {
  Made m = NewSoftwareStore();
  ASSERT_TRUE(m.store->Initialize().ok());
  EXPECT_TRUE(absl::IsUnimplemented(m.store->EnrollTransportKey().status()));
}

}  // namespace
}  // namespace inkan::hsm
