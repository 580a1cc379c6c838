#include "common/files.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "absl/strings/str_cat.h"

namespace inkan {

absl::Status ErrnoError(absl::string_view what, const std::string& path) {
  int e = errno;
  std::string msg = absl::StrCat(what, " ", path, ": ", std::strerror(e));
  if (e == ENOENT) return absl::NotFoundError(msg);
  if (e == EACCES || e == EPERM) return absl::PermissionDeniedError(msg);
  return absl::InternalError(msg);
}

absl::Status WriteFileAtomic(const std::string& path, absl::string_view data,
                             int mode) {
  // A fresh, unpredictable temporary name, created exclusively and never
  // through a symlink.
  std::string tmp = absl::StrCat(path, ".tmp.", ::getpid(), ".", ::random());
  int fd = ::open(tmp.c_str(),
                  O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
  if (fd < 0) return ErrnoError("cannot create", tmp);
  ::fchmod(fd, mode);
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      absl::Status st = ErrnoError("cannot write", tmp);
      ::close(fd);
      ::unlink(tmp.c_str());
      return st;
    }
    off += n;
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    ::unlink(tmp.c_str());
    return ErrnoError("cannot sync", tmp);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    absl::Status st = ErrnoError("cannot rename to", path);
    ::unlink(tmp.c_str());
    return st;
  }
  // Make the rename itself durable.
  std::string dir = std::filesystem::path(path).parent_path().string();
  int dfd = ::open(dir.empty() ? "." : dir.c_str(),
                   O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoError("cannot open", path);
  std::string out;
  char buf[8192];
  while (true) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR) continue;
      absl::Status st = ErrnoError("cannot read", path);
      ::close(fd);
      return st;
    }
    if (n == 0) break;
    out.append(buf, n);
  }
  ::close(fd);
  return out;
}

absl::StatusOr<SecretBytes> ReadSecretFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return ErrnoError("cannot open", path);
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    absl::Status e = ErrnoError("cannot stat", path);
    ::close(fd);
    return e;
  }
  if ((st.st_mode & 077) != 0 || st.st_uid != ::geteuid()) {
    ::close(fd);
    return absl::PermissionDeniedError(absl::StrCat(
        path,
        " must be owned by this user and readable by nobody else (chmod 600)"));
  }
  SecretBytes out;
  char buf[256];
  while (true) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      absl::Status e = ErrnoError("cannot read", path);
      CleanseMemory(buf, sizeof(buf));
      ::close(fd);
      return e;
    }
    if (n == 0) break;
    out.Append(absl::string_view(buf, n));
    if (out.size() > 4096) {
      CleanseMemory(buf, sizeof(buf));
      ::close(fd);
      return absl::InvalidArgumentError(
          absl::StrCat(path, " is too large for a PIN file"));
    }
  }
  CleanseMemory(buf, sizeof(buf));
  ::close(fd);
  size_t len = out.size();
  absl::string_view v = out.RevealString();
  while (len > 0 && (v[len - 1] == '\n' || v[len - 1] == '\r')) --len;
  return SecretBytes(v.substr(0, len));
}

bool PathExists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

absl::Status MakeDirs(const std::string& path, int mode) {
  std::error_code ec;
  std::filesystem::path p(path);
  std::filesystem::path cur;
  for (const auto& part : p) {
    cur /= part;
    if (cur.empty() || PathExists(cur.string())) continue;
    if (::mkdir(cur.c_str(), mode) != 0 && errno != EEXIST) {
      return ErrnoError("cannot create directory", cur.string());
    }
  }
  return absl::OkStatus();
}

}  // namespace inkan
