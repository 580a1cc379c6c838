// Status propagation macros, after kmsp11's common/status_macros.h.
//
//   RETURN_IF_ERROR(DoThing());
//   ASSIGN_OR_RETURN(auto value, ComputeValue());
#ifndef INKAN_COMMON_STATUS_MACROS_H_
#define INKAN_COMMON_STATUS_MACROS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define INKAN_CONCAT_INNER_(a, b) a##b
#define INKAN_CONCAT_(a, b) INKAN_CONCAT_INNER_(a, b)

#define RETURN_IF_ERROR(expr)                      \
  do {                                             \
    ::absl::Status _inkan_status = (expr);         \
    if (!_inkan_status.ok()) return _inkan_status; \
  } while (0)

#define ASSIGN_OR_RETURN(lhs, expr)                                            \
  INKAN_ASSIGN_OR_RETURN_IMPL_(INKAN_CONCAT_(_inkan_statusor_, __LINE__), lhs, \
                               expr)

#define INKAN_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, expr)  \
  auto statusor = (expr);                                  \
  if (!statusor.ok()) return std::move(statusor).status(); \
  lhs = std::move(statusor).value()

#endif  // INKAN_COMMON_STATUS_MACROS_H_
