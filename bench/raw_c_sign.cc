#include "bench/raw_c_sign.h"

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "crypto/digest.h"
#include "crypto/signature_format.h"

namespace inkan::bench {

absl::StatusOr<std::unique_ptr<RawCSigner>> RawCSigner::Create(
    CK_FUNCTION_LIST* fn, CK_SLOT_ID slot, const SecretBytes& pin,
    crypto::KeyAlgorithm alg) {
  if (alg != crypto::KeyAlgorithm::kEcP256 &&
      alg != crypto::KeyAlgorithm::kRsa2048) {
    return absl::InvalidArgumentError("raw C_Sign: ec-p256 or rsa-2048 only");
  }
  CK_SESSION_HANDLE s;
  CK_RV rv = fn->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION,
                               nullptr, nullptr, &s);
  if (rv != CKR_OK) return hsm::CkrToStatus(rv, "C_OpenSession");
  std::unique_ptr<RawCSigner> out(new RawCSigner(fn, s));
  rv = fn->C_Login(s, CKU_USER, const_cast<CK_BYTE*>(pin.Reveal().data()),
                   pin.size());
  if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN)
    return hsm::CkrToStatus(rv, "C_Login");
  const bool rsa = alg == crypto::KeyAlgorithm::kRsa2048;
  CK_BBOOL t = CK_TRUE, f = CK_FALSE;
  CK_ULONG bits = 2048;
  CK_BYTE exp[] = {1, 0, 1};
  CK_BYTE p256[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
  std::vector<CK_ATTRIBUTE> pub = {{CKA_TOKEN, &f, 1}};
  if (rsa) {
    pub.push_back({CKA_MODULUS_BITS, &bits, sizeof(bits)});
    pub.push_back({CKA_PUBLIC_EXPONENT, exp, 3});
  } else {
    pub.push_back({CKA_EC_PARAMS, p256, sizeof(p256)});
  }
  CK_ATTRIBUTE priv[] = {{CKA_TOKEN, &f, 1},
                         {CKA_PRIVATE, &t, 1},
                         {CKA_SENSITIVE, &t, 1},
                         {CKA_EXTRACTABLE, &f, 1},
                         {CKA_SIGN, &t, 1}};
  CK_MECHANISM gen = {rsa ? CKM_RSA_PKCS_KEY_PAIR_GEN : CKM_EC_KEY_PAIR_GEN,
                      nullptr, 0};
  rv = fn->C_GenerateKeyPair(s, &gen, pub.data(), pub.size(), priv, 5,
                             &out->pub_, &out->priv_);
  if (rv != CKR_OK) return hsm::CkrToStatus(rv, "C_GenerateKeyPair");
  out->input_ = crypto::Sha256("bench");
  if (rsa) {
    out->input_ = absl::StrCat(
        crypto::DigestInfoPrefix(crypto::HashAlgorithm::kSha256), out->input_);
  }
  out->mech_ = rsa ? CKM_RSA_PKCS : CKM_ECDSA;
  return out;
}

RawCSigner::~RawCSigner() {
  if (priv_ != CK_INVALID_HANDLE) fn_->C_DestroyObject(s_, priv_);
  if (pub_ != CK_INVALID_HANDLE) fn_->C_DestroyObject(s_, pub_);
  fn_->C_CloseSession(s_);
}

bool RawCSigner::Sign() {
  CK_MECHANISM mech = {mech_, nullptr, 0};
  CK_BYTE sig[512];
  CK_ULONG len = sizeof(sig);
  return fn_->C_SignInit(s_, &mech, priv_) == CKR_OK &&
         fn_->C_Sign(s_, reinterpret_cast<CK_BYTE*>(input_.data()),
                     input_.size(), sig, &len) == CKR_OK;
}

absl::StatusOr<double> RawCSignRate(CK_FUNCTION_LIST* fn, CK_SLOT_ID slot,
                                    const SecretBytes& pin,
                                    crypto::KeyAlgorithm alg, int threads,
                                    absl::Duration duration) {
  // Each thread makes its own session and key, the most favourable case for
  // the token. (One measurement saw a key made on one thread and used on
  // others scale worse, 23k instead of 34k signatures/s at 2 threads; a
  // later one did not reproduce it: bench/README.md.)
  std::vector<absl::Status> status(threads);
  std::vector<long> counts(threads, 0);
  std::atomic<int> ready{0};
  std::atomic<bool> go{false};
  using Clock = std::chrono::steady_clock;
  const auto span = absl::ToChronoNanoseconds(duration);
  Clock::time_point start;
  std::vector<std::thread> workers;
  for (int i = 0; i < threads; ++i) {
    workers.emplace_back([&, i] {
      auto signer = RawCSigner::Create(fn, slot, pin, alg);
      status[i] = signer.status();
      ready.fetch_add(1, std::memory_order_acq_rel);
      while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
      if (!signer.ok()) return;
      const auto end = start + span;
      long n = 0;
      while (Clock::now() < end) {
        if (!(*signer)->Sign()) {
          status[i] = absl::InternalError("C_SignInit/C_Sign failed");
          break;
        }
        ++n;
      }
      counts[i] = n;
    });
  }
  while (ready.load(std::memory_order_acquire) < threads)
    std::this_thread::yield();
  start = Clock::now();
  go.store(true, std::memory_order_release);
  for (auto& w : workers) w.join();
  const double secs =
      std::chrono::duration<double>(Clock::now() - start).count();
  long total = 0;
  for (int i = 0; i < threads; ++i) {
    if (!status[i].ok()) return status[i];
    total += counts[i];
  }
  return total / secs;
}

}  // namespace inkan::bench
