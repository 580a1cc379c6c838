// Small file helpers with the permissions inkan's data directory needs.
#ifndef INKAN_COMMON_FILES_H_
#define INKAN_COMMON_FILES_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/secret_bytes.h"

namespace inkan {

// A Status for the errno of a failed `what` on `path` ("cannot open", ...):
// NotFound for ENOENT, PermissionDenied for EACCES/EPERM, Internal otherwise.
absl::Status ErrnoError(absl::string_view what, const std::string& path);

// Writes via a temporary file, fsync and rename, so readers see the old or
// the new content, never a torn one. The file gets `mode`.
absl::Status WriteFileAtomic(const std::string& path, absl::string_view data,
                             int mode);
// NotFound if missing.
absl::StatusOr<std::string> ReadFile(const std::string& path);
// Reads a secret (a PIN file): trailing newlines are dropped. PermissionDenied
// if the file is readable by group or others.
absl::StatusOr<SecretBytes> ReadSecretFile(const std::string& path);
bool PathExists(const std::string& path);
// mkdir -p with `mode` for the directories it creates.
absl::Status MakeDirs(const std::string& path, int mode);

}  // namespace inkan

#endif  // INKAN_COMMON_FILES_H_
