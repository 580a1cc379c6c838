// Test helpers for storage tests: a scratch directory and stores that own
// what they are built on.
#ifndef INKAN_STORAGE_TEST_UTIL_H_
#define INKAN_STORAGE_TEST_UTIL_H_

#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <system_error>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "storage/store.h"

namespace inkan::storage {

// A fresh directory (under $TEST_TMPDIR or /tmp), removed with its contents
// on destruction. path() is empty if it could not be created.
class ScratchDir {
 public:
  ScratchDir() {
    const char* base = std::getenv("TEST_TMPDIR");
    std::string tmpl =
        std::string(base != nullptr && *base != '\0' ? base : "/tmp") +
        "/inkan_storage_XXXXXX";
    if (mkdtemp(tmpl.data()) != nullptr) path_ = tmpl;
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  ~ScratchDir() {
    if (path_.empty()) return;
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }

  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A SQLite store in its own scratch directory (removed when the store is).
class ScratchSqliteStore : public Store {
 public:
  static absl::StatusOr<std::unique_ptr<Store>> New() {
    auto owner = std::unique_ptr<ScratchSqliteStore>(new ScratchSqliteStore());
    if (owner->dir_.path().empty()) {
      return absl::InternalError("mkdtemp failed");
    }
    absl::StatusOr<std::unique_ptr<Store>> store =
        OpenSqliteStore(owner->dir_.path() + "/inkan.db");
    if (!store.ok()) return store.status();
    owner->store_ = *std::move(store);
    return owner;
  }

  absl::Status Transact(
      TxMode mode, absl::FunctionRef<absl::Status(Transaction&)> fn) override {
    return store_->Transact(mode, fn);
  }

 private:
  ScratchSqliteStore() = default;

  ScratchDir dir_;  // declared first: removed last
  std::unique_ptr<Store> store_;
};

// A FaultInjectionStore together with the base store it wraps.
class OwningFaultInjectionStore : public FaultInjectionStore {
 public:
  explicit OwningFaultInjectionStore(std::unique_ptr<Store> base)
      : base_(std::move(base)), faults_(NewFaultInjectionStore(*base_)) {}

  absl::Status Transact(
      TxMode mode, absl::FunctionRef<absl::Status(Transaction&)> fn) override {
    return faults_->Transact(mode, fn);
  }
  void FailAtWrite(int64_t fail_at) override { faults_->FailAtWrite(fail_at); }
  void Reset() override { faults_->Reset(); }
  int64_t writes() const override { return faults_->writes(); }

 private:
  std::unique_ptr<Store> base_;  // declared first: outlives faults_
  std::unique_ptr<FaultInjectionStore> faults_;
};

}  // namespace inkan::storage

#endif  // INKAN_STORAGE_TEST_UTIL_H_
