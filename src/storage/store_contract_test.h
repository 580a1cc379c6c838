// The contract every storage::Store backend must honour, as a parameterised
// GoogleTest suite. A backend's test links store_contract_test.cc and
// instantiates the suite with a factory for fresh, empty stores:
//
//   INSTANTIATE_TEST_SUITE_P(
//       Memory, StoreContractTest,
//       testing::Values(StoreContractParam{"Memory", [] {
//         return absl::StatusOr<std::unique_ptr<Store>>(NewMemoryStore());
//       }}),
//       StoreContractParamName);
//
// The factory's store may own extra resources (a temp directory, a base store
// under a wrapper) and release them in its destructor.
#ifndef INKAN_STORAGE_STORE_CONTRACT_TEST_H_
#define INKAN_STORAGE_STORE_CONTRACT_TEST_H_

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "storage/store.h"

namespace inkan::storage {

struct StoreContractParam {
  std::string name;  // test name suffix: letters, digits, underscores
  std::function<absl::StatusOr<std::unique_ptr<Store>>()> make_store;
};

inline std::string StoreContractParamName(
    const testing::TestParamInfo<StoreContractParam>& info) {
  return info.param.name;
}

inline void PrintTo(const StoreContractParam& param, std::ostream* os) {
  *os << param.name;
}

class StoreContractTest : public testing::TestWithParam<StoreContractParam> {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<Store>> store = GetParam().make_store();
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
  }

  Store& store() { return *store_; }

  // Shorthands for one-transaction tests.
  absl::Status Write(const std::function<absl::Status(Transaction&)>& fn) {
    return store_->Transact(TxMode::kReadWrite, fn);
  }
  absl::Status Read(const std::function<absl::Status(Transaction&)>& fn) {
    return store_->Transact(TxMode::kReadOnly, fn);
  }

 private:
  std::unique_ptr<Store> store_;
};

// Status matchers for storage tests (accept Status or StatusOr<T>).
inline const absl::Status& GetStatusForTest(const absl::Status& status) {
  return status;
}
template <typename T>
const absl::Status& GetStatusForTest(const absl::StatusOr<T>& status_or) {
  return status_or.status();
}

MATCHER(IsOk, "is OK") {
  const absl::Status& status = GetStatusForTest(arg);
  *result_listener << "status is " << status;
  return status.ok();
}

MATCHER_P(StatusIs, code,
          std::string("has status code ") + absl::StatusCodeToString(code)) {
  const absl::Status& status = GetStatusForTest(arg);
  *result_listener << "status is " << status;
  return status.code() == code;
}

MATCHER_P2(StatusIs, code, message_matcher,
           std::string("has status code ") + absl::StatusCodeToString(code)) {
  const absl::Status& status = GetStatusForTest(arg);
  *result_listener << "status is " << status;
  return status.code() == code &&
         testing::ExplainMatchResult(
             message_matcher, std::string(status.message()), result_listener);
}

MATCHER_P(IsOkAndHolds, value_matcher, "is OK and holds a matching value") {
  if (!arg.ok()) {
    *result_listener << "status is " << arg.status();
    return false;
  }
  return testing::ExplainMatchResult(value_matcher, *arg, result_listener);
}

}  // namespace inkan::storage

#endif  // INKAN_STORAGE_STORE_CONTRACT_TEST_H_
