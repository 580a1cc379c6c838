#include "ca/test_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "ca/name.h"
#include "crypto/software_signer.h"

namespace inkan::ca::test {
namespace {

// Test set-up that cannot go on: say why and stop the binary.
void Require(bool ok, absl::string_view what) {
  if (!ok) {
    fprintf(stderr, "test set-up failed: %.*s\n", static_cast<int>(what.size()),
            what.data());
    abort();
  }
}

}  // namespace

std::unique_ptr<crypto::Signer> NewSigner(crypto::KeyAlgorithm key,
                                          crypto::HashAlgorithm hash,
                                          crypto::RsaPadding padding) {
  auto pkcs8 = crypto::GenerateSoftwareKey(key);
  Require(pkcs8.ok(), pkcs8.status().ToString());
  auto signer = crypto::NewSoftwareSigner(*pkcs8, {key, hash, padding});
  Require(signer.ok(), signer.status().ToString());
  return *std::move(signer);
}

absl::Time Now() {
  return absl::FromUnixSeconds(absl::ToUnixSeconds(absl::Now()));
}

TestCa NewRootCa(const crypto::SignatureScheme& scheme,
                 absl::string_view subject) {
  TestCa ca;
  ca.signer = NewSigner(scheme.key, scheme.hash, scheme.padding);
  auto name = ParseName(subject);
  Require(name.ok(), name.status().ToString());
  auto root = IssueRootCertificate(
      *name, {Now() - absl::Hours(1), Now() + absl::Hours(24 * 3650)},
      *ca.signer);
  Require(root.ok(), root.status().ToString());
  ca.cert_der = root->der;
  return ca;
}

TempDir::TempDir() {
  std::string tmpl = "/tmp/inkan_ca_test_XXXXXX";
  Require(mkdtemp(tmpl.data()) != nullptr, "mkdtemp");
  dir_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

std::string TempDir::Path(absl::string_view name) const {
  return absl::StrCat(dir_, "/", name);
}

std::string TempDir::Write(absl::string_view name,
                           absl::string_view content) const {
  std::string path = Path(name);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(content.data(), static_cast<std::streamsize>(content.size()));
  Require(out.good(), path);
  return path;
}

std::string TempDir::WritePem(absl::string_view name, absl::string_view der,
                              absl::string_view label) const {
  return Write(name, ToPem(der, label));
}

std::string TempDir::Read(absl::string_view name) const {
  std::ifstream in(Path(name), std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

CommandResult Run(const std::string& command) {
  CommandResult result{-1, ""};
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  Require(pipe != nullptr, command);
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), pipe)) > 0)
    result.output.append(buf, n);
  int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

}  // namespace inkan::ca::test
