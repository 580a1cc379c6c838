// Test helpers for src/ca: software signers, a throwaway root CA, a temporary
// directory, and a runner for the openssl command line.
#ifndef INKAN_CA_TEST_UTIL_H_
#define INKAN_CA_TEST_UTIL_H_

#include <memory>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "ca/certificate.h"
#include "crypto/algorithm.h"
#include "crypto/signer.h"

namespace inkan::ca::test {

// A fresh in-memory key. Aborts the test binary if generation fails.
std::unique_ptr<crypto::Signer> NewSigner(
    crypto::KeyAlgorithm key,
    crypto::HashAlgorithm hash = crypto::HashAlgorithm::kSha256,
    crypto::RsaPadding padding = crypto::RsaPadding::kPkcs1);

// A fixed "now" for tests, on a whole second.
absl::Time Now();

// A self-signed root valid from an hour ago for ten years.
struct TestCa {
  std::unique_ptr<crypto::Signer> signer;
  std::string cert_der;
  CaContext context() const { return CaContext{cert_der, *signer}; }
};
TestCa NewRootCa(
    const crypto::SignatureScheme& scheme,
    absl::string_view subject = "CN=inkan Test Root,O=Example,C=JP");

// A directory under /tmp that is removed with its files on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  std::string Path(absl::string_view name) const;
  // Writes `content` to Path(name) and returns that path.
  std::string Write(absl::string_view name, absl::string_view content) const;
  std::string WritePem(absl::string_view name, absl::string_view der,
                       absl::string_view label = "CERTIFICATE") const;
  std::string Read(absl::string_view name) const;

 private:
  std::string dir_;
};

struct CommandResult {
  int exit_code;
  std::string output;  // stdout and stderr together
};
// Runs `command` through /bin/sh with stderr folded into stdout.
CommandResult Run(const std::string& command);

}  // namespace inkan::ca::test

#endif  // INKAN_CA_TEST_UTIL_H_
