// Raw PKCS#11 signing, the HSM ceiling the benchmarks compare inkan against:
// C_SignInit + C_Sign on a non-extractable session key, one logged-in session
// per thread, no inkan code in the loop.
#ifndef INKAN_BENCH_RAW_C_SIGN_H_
#define INKAN_BENCH_RAW_C_SIGN_H_

#include <p11-kit/pkcs11.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/secret_bytes.h"
#include "crypto/algorithm.h"
#include "hsm/pkcs11_module.h"

namespace inkan::bench {

// One thread's signer: its own session on `slot`, logged in with `pin`, and a
// key pair of `alg` (ec-p256 or rsa-2048) generated there as session objects
// (CKA_SENSITIVE, not CKA_EXTRACTABLE). Not thread-safe: one per thread.
class RawCSigner {
 public:
  static absl::StatusOr<std::unique_ptr<RawCSigner>> Create(
      CK_FUNCTION_LIST* fn, CK_SLOT_ID slot, const SecretBytes& pin,
      crypto::KeyAlgorithm alg);
  ~RawCSigner();  // destroys the keys, closes the session
  RawCSigner(const RawCSigner&) = delete;
  RawCSigner& operator=(const RawCSigner&) = delete;

  // One C_SignInit + C_Sign over a SHA-256 digest (for RSA under its
  // DigestInfo prefix, CKM_RSA_PKCS; for EC, CKM_ECDSA). False on failure.
  bool Sign();

 private:
  RawCSigner(CK_FUNCTION_LIST* fn, CK_SESSION_HANDLE s) : fn_(fn), s_(s) {}
  CK_FUNCTION_LIST* fn_;
  CK_SESSION_HANDLE s_;
  CK_OBJECT_HANDLE pub_ = CK_INVALID_HANDLE, priv_ = CK_INVALID_HANDLE;
  CK_MECHANISM_TYPE mech_ = CKM_ECDSA;
  std::string input_;
};

// `threads` threads, each with its own RawCSigner, signing for `duration`;
// returns the signatures per second of all of them together.
absl::StatusOr<double> RawCSignRate(CK_FUNCTION_LIST* fn, CK_SLOT_ID slot,
                                    const SecretBytes& pin,
                                    crypto::KeyAlgorithm alg, int threads,
                                    absl::Duration duration);

}  // namespace inkan::bench

#endif  // INKAN_BENCH_RAW_C_SIGN_H_
