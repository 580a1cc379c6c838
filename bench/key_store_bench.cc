// KeyStore signing throughput beside its ceilings, measured in the same run:
//   raw OpenSSL   EVP_PKEY_sign on a key in memory
//   raw C_Sign    C_SignInit+C_Sign on a session key, one logged-in session
//                 per thread, on the same SoftHSM token
//   KeyStore      ActiveKey::Sign through the pooled PKCS#11 backend (the key
//                 unwrapped from its sealed blob, as inkan signs) and through
//                 the software backend
// for ECDSA P-256 and RSA-2048, 1 and 2 threads; then a table of ratios.
// Also: the cost of one activation (Argon2id with the default parameters +
// pepper HMAC in the HSM + unseal + unwrap), paid once per authorization.
#include <benchmark/benchmark.h>
#include <stdlib.h>

#include <cstdio>
#include <map>
#include <memory>
#include <mutex>

#include "bench/raw_c_sign.h"
#include "common/files.h"
#include "common/secret_bytes.h"
#include "crypto/digest.h"
#include "crypto/signature_format.h"
#include "crypto/software_signer.h"
#include "hsm/pkcs11_key_store.h"
#include "hsm/pkcs11_module.h"
#include "hsm/softhsm.h"
#include "hsm/software_key_store.h"
#include "sam/sealed_key.h"

namespace inkan {
namespace {

using crypto::HashAlgorithm;
using crypto::KeyAlgorithm;

struct Env {
  std::string dir;
  std::unique_ptr<hsm::KeyStore> pkcs11;
  std::unique_ptr<hsm::KeyStore> software;
  std::map<KeyAlgorithm, hsm::WrappedKey> pkcs11_keys, software_keys;
  std::shared_ptr<hsm::Pkcs11Module> module;
  CK_SLOT_ID slot = 0;
  SecretBytes pin;
};

Env* env = nullptr;

void Check(const absl::Status& st, const char* what) {
  if (!st.ok()) {
    std::fprintf(stderr, "bench setup: %s: %s\n", what,
                 std::string(st.message()).c_str());
    std::exit(1);
  }
}

void SetUpEnv() {
  env = new Env();
  char tmpl[] = "/tmp/inkan-bench-XXXXXX";
  env->dir = mkdtemp(tmpl);
  Check(hsm::UseSoftHsmDir(env->dir + "/hsm"), "softhsm dir");
  Check(hsm::CreateSoftHsmToken(env->dir + "/hsm", hsm::DefaultSoftHsmModule(),
                                "bench"),
        "token");
  env->pin = *ReadSecretFile(env->dir + "/hsm/user.pin");
  hsm::Pkcs11Options opts{hsm::DefaultSoftHsmModule(), "bench", env->pin, 64};
  auto p = hsm::OpenPkcs11KeyStore(opts);
  Check(p.status(), "open pkcs11");
  env->pkcs11 = std::move(*p);
  Check(env->pkcs11->Initialize(), "init pkcs11");
  auto s = hsm::OpenSoftwareKeyStore(env->dir + "/software-keys");
  env->software = std::move(*s);
  Check(env->software->Initialize(), "init software");
  for (KeyAlgorithm alg : {KeyAlgorithm::kEcP256, KeyAlgorithm::kRsa2048}) {
    env->pkcs11_keys[alg] = *env->pkcs11->GenerateWrappedKey(alg);
    env->software_keys[alg] = *env->software->GenerateWrappedKey(alg);
  }
  env->module = *hsm::Pkcs11Module::Shared(hsm::DefaultSoftHsmModule());
  env->slot = *env->module->FindTokenSlot("bench");
}

KeyAlgorithm Alg(const benchmark::State& state) {
  return state.range(0) == 0 ? KeyAlgorithm::kEcP256 : KeyAlgorithm::kRsa2048;
}
const char* AlgName(const benchmark::State& state) {
  return state.range(0) == 0 ? "ec-p256" : "rsa-2048";
}

void BM_RawOpenSsl(benchmark::State& state) {
  KeyAlgorithm alg = Alg(state);
  auto pkcs8 = crypto::GenerateSoftwareKey(alg);
  auto signer =
      crypto::NewSoftwareSigner(*pkcs8, {alg, HashAlgorithm::kSha256});
  std::string digest = crypto::Sha256("bench");
  for (auto _ : state) benchmark::DoNotOptimize((*signer)->SignDigest(digest));
  state.SetItemsProcessed(state.iterations());
  state.SetLabel(AlgName(state));
}

// Raw PKCS#11: a non-extractable session key generated on this thread's own
// session; C_SignInit + C_Sign per signature, no inkan code in the loop.
void BM_RawCSign(benchmark::State& state) {
  auto signer = bench::RawCSigner::Create(env->module->fn(), env->slot,
                                          env->pin, Alg(state));
  if (!signer.ok()) {
    state.SkipWithError(std::string(signer.status().message()).c_str());
    return;
  }
  for (auto _ : state) (*signer)->Sign();
  state.SetItemsProcessed(state.iterations());
  state.SetLabel(AlgName(state));
}

void KeyStoreSign(benchmark::State& state, hsm::KeyStore& keys,
                  const std::map<KeyAlgorithm, hsm::WrappedKey>& wrapped) {
  KeyAlgorithm alg = Alg(state);
  // Each thread activates its own copy, as concurrent SADs would.
  auto active = keys.Activate(alg, wrapped.at(alg).wrapped);
  if (!active.ok()) {
    state.SkipWithError(std::string(active.status().message()).c_str());
    return;
  }
  std::string digest = crypto::Sha256("bench");
  crypto::SignatureScheme scheme{alg, HashAlgorithm::kSha256};
  for (auto _ : state)
    benchmark::DoNotOptimize((*active)->Sign(scheme, digest));
  state.SetItemsProcessed(state.iterations());
  state.SetLabel(AlgName(state));
}

void BM_KeyStorePkcs11(benchmark::State& state) {
  KeyStoreSign(state, *env->pkcs11, env->pkcs11_keys);
}
void BM_KeyStoreSoftware(benchmark::State& state) {
  KeyStoreSign(state, *env->software, env->software_keys);
}

// One activation with the production default Argon2id (64 MiB, t=3).
void BM_ActivationDefaultArgon2(benchmark::State& state) {
  const KeyAlgorithm alg = KeyAlgorithm::kEcP256;
  sam::SealBinding binding{"bench", alg, 1,
                           env->pkcs11_keys[alg].public_key_der};
  sam::Factors factors{SecretBytes(absl::string_view("246810")), SecretBytes()};
  auto sealed =
      sam::SealKey(*env->pkcs11, binding, factors, crypto::Argon2Params(),
                   env->pkcs11_keys[alg].wrapped);
  for (auto _ : state) {
    auto wrapped = sam::UnsealKey(*env->pkcs11, binding, factors, *sealed);
    auto active = env->pkcs11->Activate(alg, *wrapped);
    benchmark::DoNotOptimize(active);
  }
  state.SetItemsProcessed(state.iterations());
}

#define INKAN_SIGN_BENCH(fn) \
  BENCHMARK(fn)              \
      ->Arg(0)               \
      ->Arg(1)               \
      ->Threads(1)           \
      ->Threads(2)           \
      ->UseRealTime()        \
      ->MinTime(1.0)
INKAN_SIGN_BENCH(BM_RawOpenSsl);
INKAN_SIGN_BENCH(BM_RawCSign);
INKAN_SIGN_BENCH(BM_KeyStorePkcs11);
INKAN_SIGN_BENCH(BM_KeyStoreSoftware);
BENCHMARK(BM_ActivationDefaultArgon2)
    ->UseRealTime()
    ->MinTime(1.0)
    ->Unit(benchmark::kMillisecond);

// Collects items/s per run name to print ratios at the end.
class RatioReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& r : runs) {
      auto it = r.counters.find("items_per_second");
      if (it != r.counters.end()) rates[r.benchmark_name()] = it->second.value;
    }
  }
  std::map<std::string, double> rates;
};

void PrintRatios(const RatioReporter& rep) {
  std::printf("\nsignatures/s and ratios (same machine, same run)\n");
  std::printf("%-10s %-7s %12s %12s %12s %12s %10s %10s\n", "alg", "threads",
              "openssl", "raw C_Sign", "ks pkcs11", "ks software", "pkcs11/raw",
              "sw/openssl");
  for (int a = 0; a < 2; ++a) {
    for (int t = 1; t <= 2; ++t) {
      auto rate = [&](const char* name) {
        std::string key =
            std::string(name) + "/" + std::to_string(a) +
            "/min_time:1.000/real_time/threads:" + std::to_string(t);
        auto it = rep.rates.find(key);
        return it == rep.rates.end() ? 0.0 : it->second;
      };
      double ossl = rate("BM_RawOpenSsl"), raw = rate("BM_RawCSign"),
             ks = rate("BM_KeyStorePkcs11"), sw = rate("BM_KeyStoreSoftware");
      std::printf("%-10s %-7d %12.0f %12.0f %12.0f %12.0f %9.1f%% %9.1f%%\n",
                  a == 0 ? "ec-p256" : "rsa-2048", t, ossl, raw, ks, sw,
                  raw > 0 ? 100.0 * ks / raw : 0.0,
                  ossl > 0 ? 100.0 * sw / ossl : 0.0);
    }
  }
  std::printf("target: ks pkcs11 >= 90%% of raw C_Sign on the same token\n");
}

}  // namespace
}  // namespace inkan

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  inkan::SetUpEnv();
  inkan::RatioReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  inkan::PrintRatios(reporter);
  benchmark::Shutdown();
  return 0;
}
