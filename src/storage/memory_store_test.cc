#include <gtest/gtest.h>

#include <memory>

#include "absl/status/statusor.h"
#include "storage/store.h"
#include "storage/store_contract_test.h"

namespace inkan::storage {
namespace {

INSTANTIATE_TEST_SUITE_P(Memory, StoreContractTest,
                         testing::Values(StoreContractParam{
                             "Memory",
                             [] {
                               return absl::StatusOr<std::unique_ptr<Store>>(
                                   NewMemoryStore());
                             }}),
                         StoreContractParamName);

}  // namespace
}  // namespace inkan::storage
