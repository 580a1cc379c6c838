#include "backup/backup_file.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/files.h"
#include "crypto/software_signer.h"

namespace inkan::backup {
namespace {

using ::testing::HasSubstr;

constexpr crypto::SignatureScheme kP256{crypto::KeyAlgorithm::kEcP256,
                                        crypto::HashAlgorithm::kSha256};

std::unique_ptr<crypto::Signer> NewKey() {
  auto pkcs8 = crypto::GenerateSoftwareKey(crypto::KeyAlgorithm::kEcP256);
  EXPECT_TRUE(pkcs8.ok());
  auto signer = crypto::NewSoftwareSigner(*pkcs8, kP256);
  EXPECT_TRUE(signer.ok());
  return *std::move(signer);
}

class BackupFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/inkan-backup-file-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    ASSERT_TRUE(
        WriteFileAtomic(dir_ + "/db", std::string(70000, 'd') + "end", 0600)
            .ok());
    ASSERT_TRUE(
        WriteFileAtomic(dir_ + "/conf", "backend = pkcs11\n", 0600).ok());
    key_ = NewKey();
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  Manifest Sample() {
    Manifest m;
    m.instance_id = "0123456789abcdef";
    m.log_id = "inkan/0123456789abcdef";
    m.created = "2026-11-26T09:00:00.000000Z";
    m.source = "/srv/inkan";
    m.backend = "pkcs11";
    m.tree_size = 7;
    m.root_hash = std::string(32, 'r');
    m.checkpoint_note = "note\n";
    m.checkpoint_signature = "sig";
    m.parts = {{"inkan.db", 0, "", 0600, "the database"},
               {"sub/inkan.conf", 0, "", 0600, "configuration"}};
    m.excluded = {{"hsm/", "the HSM token and its PIN"}};
    return m;
  }

  std::string Write() {
    std::string out = dir_ + "/b.inkan-backup";
    auto m =
        WriteBackupFile(out, Sample(), {dir_ + "/db", dir_ + "/conf"}, *key_);
    EXPECT_TRUE(m.ok()) << m.status();
    return out;
  }

  std::string dir_;
  std::unique_ptr<crypto::Signer> key_;
};

TEST_F(BackupFileTest, RoundTripsAndExtracts) {
  std::string out = Write();
  auto m = ReadBackupFile(out, key_->public_key_der(), "");
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->tree_size, 7);
  EXPECT_EQ(m->parts[0].size, 70003);
  EXPECT_EQ(m->parts[1].name, "sub/inkan.conf");
  EXPECT_EQ(m->excluded[0].path, "hsm/");
  std::string x = dir_ + "/x";
  std::filesystem::create_directory(x);
  ASSERT_TRUE(ReadBackupFile(out, "", x).ok());
  EXPECT_EQ(*ReadFile(x + "/inkan.db"), *ReadFile(dir_ + "/db"));
  EXPECT_EQ(*ReadFile(x + "/sub/inkan.conf"), "backend = pkcs11\n");
  EXPECT_EQ(
      std::filesystem::status(x + "/inkan.db").permissions(),
      std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
}

TEST_F(BackupFileTest, RefusesToOverwrite) {
  std::string out = Write();
  auto again =
      WriteBackupFile(out, Sample(), {dir_ + "/db", dir_ + "/conf"}, *key_);
  EXPECT_TRUE(absl::IsAlreadyExists(again.status())) << again.status();
}

// The property the issue asks for: any flipped byte is detected.
TEST_F(BackupFileTest, EveryFlippedByteIsDetected) {
  std::string out = Write();
  std::string good = *ReadFile(out);
  std::string bad_path = dir_ + "/bad";
  // Every byte of the header, manifest, the signature line and the first and
  // last parts' edges, and a stride through the payload.
  for (size_t i = 0; i < good.size(); ++i) {
    bool payload = i > 1500 && i < good.size() - 200;
    if (payload && i % 997 != 0 && i != good.size() - 210) continue;
    std::string bad = good;
    bad[i] ^= 0x01;
    ASSERT_TRUE(WriteFileAtomic(bad_path, bad, 0600).ok());
    auto m = ReadBackupFile(bad_path, "", "");
    ASSERT_FALSE(m.ok()) << "flipped byte " << i << " was not detected";
    EXPECT_TRUE(absl::IsDataLoss(m.status()) ||
                absl::IsInvalidArgument(m.status()))
        << i << ": " << m.status();
  }
}

TEST_F(BackupFileTest, NamesTheDamagedPart) {
  std::string out = Write();
  std::string bad = *ReadFile(out);
  size_t at = bad.find("dddd", bad.find("\"excluded\""));
  bad[at + 100] = 'X';
  ASSERT_TRUE(WriteFileAtomic(out + ".bad", bad, 0600).ok());
  auto m = ReadBackupFile(out + ".bad", "", "");
  EXPECT_TRUE(absl::IsDataLoss(m.status()));
  EXPECT_THAT(m.status().message(), HasSubstr("part inkan.db"));
}

TEST_F(BackupFileTest, TruncatedAndExtendedFilesAreRefused) {
  std::string out = Write();
  std::string good = *ReadFile(out);
  for (size_t cut : {size_t{0}, size_t{10}, good.size() / 2, good.size() - 1}) {
    ASSERT_TRUE(WriteFileAtomic(out + ".cut", good.substr(0, cut), 0600).ok());
    EXPECT_FALSE(ReadBackupFile(out + ".cut", "", "").ok()) << cut;
  }
  ASSERT_TRUE(WriteFileAtomic(out + ".long", good + "x", 0600).ok());
  EXPECT_TRUE(absl::IsDataLoss(ReadBackupFile(out + ".long", "", "").status()));
}

TEST_F(BackupFileTest, AnotherKeyIsRefusedWhenPinned) {
  std::string out = Write();
  auto other = NewKey();
  auto m = ReadBackupFile(out, other->public_key_der(), "");
  EXPECT_TRUE(absl::IsPermissionDenied(m.status())) << m.status();
  EXPECT_THAT(m.status().message(), HasSubstr("not by the expected key"));
}

TEST_F(BackupFileTest, ResignedWithAnotherKeyFailsThePin) {
  // An attacker rewrites the whole file with their own key: the structure
  // and signature are fine, only the pin catches it.
  auto other = NewKey();
  std::string out = dir_ + "/forged";
  ASSERT_TRUE(
      WriteBackupFile(out, Sample(), {dir_ + "/db", dir_ + "/conf"}, *other)
          .ok());
  EXPECT_TRUE(ReadBackupFile(out, "", "").ok());
  EXPECT_FALSE(ReadBackupFile(out, key_->public_key_der(), "").ok());
}

TEST(ManifestTest, RefusesUnsafePartNames) {
  Manifest m;
  m.root_hash = std::string(32, 'r');
  for (const char* name : {"../etc/passwd", "/etc/passwd", "a/b/c", "a/../b",
                           "", ".", "a b", "tls/"}) {
    m.parts = {{name, 1, std::string(32, 'h'), 0600, "x"}};
    auto parsed = ParseManifest(SerializeManifest(m));
    EXPECT_TRUE(absl::IsInvalidArgument(parsed.status())) << name;
  }
  m.parts = {{"a", 1, std::string(32, 'h'), 0600, "x"},
             {"a", 1, std::string(32, 'h'), 0600, "x"}};
  EXPECT_FALSE(ParseManifest(SerializeManifest(m)).ok());
  m.parts = {{"tls/cert.pem", 1, std::string(32, 'h'), 0644, "x"}};
  auto parsed = ParseManifest(SerializeManifest(m));
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->parts[0].mode, 0600);  // never wider than 0600
}

TEST(ManifestTest, RefusesOtherInput) {
  EXPECT_FALSE(ParseManifest("").ok());
  EXPECT_FALSE(ParseManifest("[]").ok());
  EXPECT_FALSE(ParseManifest("{\"format\":\"inkan-backup/2\"}").ok());
}

}  // namespace
}  // namespace inkan::backup
