// The backup file (doc/backup_and_retention.md §6): one file holding a
// consistent snapshot of a data directory, its manifest and a signature by
// the instance's audit key, made inside the HSM.
//
//   INKAN-BACKUP 1\n
//   manifest <n>\n<n bytes of manifest JSON>\n
//   <part 1 bytes><part 2 bytes>...          (sizes and order: the manifest)
//   signature <base64 DER ECDSA signature>\n
//
// The signature is ECDSA P-256 over SHA-256 of every byte before the
// "signature" line (header, manifest and parts). The manifest lists each
// part with its size and SHA-256, so a damaged part is named; the signature
// makes any flipped byte, anywhere, fail. Reading is streamed (parts may be
// large): O(1) memory besides the manifest.
//
// Thread-safety: all functions are thread-safe.
#ifndef INKAN_BACKUP_BACKUP_FILE_H_
#define INKAN_BACKUP_BACKUP_FILE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "crypto/signer.h"

namespace inkan::backup {

inline constexpr absl::string_view kMagic = "INKAN-BACKUP 1\n";
inline constexpr absl::string_view kFormat = "inkan-backup/1";

struct Part {
  std::string name;    // relative path in the data dir, e.g. "inkan.db"
  int64_t size = 0;    // bytes
  std::string sha256;  // 32 raw bytes
  int mode = 0600;     // file mode to restore with
  std::string what;    // a short description for people
};

struct Excluded {
  std::string path;  // e.g. "hsm/"
  std::string why;
};

struct Manifest {
  std::string format{kFormat};
  std::string instance_id;
  std::string log_id;
  std::string created;        // audit timestamp (RFC 3339, microseconds)
  std::string source;         // the data directory it was taken from
  std::string backend;        // "pkcs11" or "software"
  std::string audit_key_der;  // SPKI of the key that signs this file
  // The audit log in the snapshot, as its latest signed checkpoint says.
  int64_t tree_size = 0;
  std::string root_hash;  // 32 raw bytes
  std::string checkpoint_note;
  std::string checkpoint_signature;  // DER
  std::vector<Part> parts;
  std::vector<Excluded> excluded;
};

// JSON text of the manifest (Boost.JSON, fixed key order).
std::string SerializeManifest(const Manifest& manifest);
// Strict: InvalidArgument naming the first bad field. Part names must be
// safe relative paths ([A-Za-z0-9._-] components, at most one '/', no "..")
// and unique.
absl::StatusOr<Manifest> ParseManifest(absl::string_view text);

// Writes `out` (mode 0600, atomically: a temporary file renamed at the end)
// from `manifest` (parts' name, mode and what given; size and sha256 are
// computed here) and the part files at `part_paths` (same order), signed by
// `signer` (ECDSA P-256/SHA-256: the audit key). Returns the manifest as
// written. AlreadyExists if `out` exists.
absl::StatusOr<Manifest> WriteBackupFile(
    const std::string& out, Manifest manifest,
    const std::vector<std::string>& part_paths, const crypto::Signer& signer);

// Reads and checks `path`: the structure, every part against the manifest,
// and the signature against the manifest's audit key — and, if
// `pinned_key_der` is not empty, that this key is the pinned one. With
// `extract_dir` (an existing directory), writes each part there too (the
// caller removes it if this fails). InvalidArgument if the file is not an
// inkan backup at all; DataLoss, naming what, if it is damaged or was
// changed; NotFound if it does not exist.
absl::StatusOr<Manifest> ReadBackupFile(const std::string& path,
                                        absl::string_view pinned_key_der,
                                        const std::string& extract_dir);

// Hex SHA-256 of a file's bytes, streamed.
absl::StatusOr<std::string> FileSha256Hex(const std::string& path);

}  // namespace inkan::backup

#endif  // INKAN_BACKUP_BACKUP_FILE_H_
