#include "server/control.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "audit/canonical_json.h"
#include "common/secret_bytes.h"
#include "common/status_macros.h"

namespace inkan::server {
namespace {

constexpr size_t kMaxRequest = 64 * 1024;

absl::StatusOr<sockaddr_un> Address(const std::string& path) {
  sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path)) {
    return absl::InvalidArgumentError(
        absl::StrCat("control socket path too long: ", path));
  }
  std::memcpy(addr.sun_path, path.data(), path.size());
  return addr;
}

absl::StatusOr<ControlFields> Parse(absl::string_view line) {
  auto fields = audit::ParseFlatObject(line);
  if (!fields.ok())
    return absl::InvalidArgumentError("control message does not parse");
  ControlFields out;
  for (const auto& f : *fields) {
    if (const auto* s = std::get_if<std::string>(&f.value)) {
      out[f.key] = *s;
    } else if (const auto* i = std::get_if<int64_t>(&f.value)) {
      out[f.key] = absl::StrCat(*i);
    }
  }
  return out;
}

std::string Render(const ControlFields& fields) {
  std::vector<audit::Field> list;
  for (const auto& [k, v] : fields) list.push_back({k, v});
  auto text = audit::CanonicalObject(list);
  return text.ok()
             ? *text
             : R"({"status":"error","code":"13","message":"bad response"})";
}

// Wipes a string that held secrets (a share) before it is freed.
void Wipe(std::string& s) { CleanseMemory(s.data(), s.size()); }

bool WriteAll(int fd, absl::string_view data) {
  while (!data.empty()) {
    ssize_t n = send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(n);
  }
  return true;
}

// Reads up to the first newline (or EOF); false if too long or timed out.
bool ReadLine(int fd, std::string* out) {
  char buf[4096];
  while (out->find('\n') == std::string::npos) {
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return false;
    if (n == 0) break;
    out->append(buf, n);
    CleanseMemory(buf, sizeof(buf));
    if (out->size() > kMaxRequest) return false;
  }
  auto nl = out->find('\n');
  if (nl != std::string::npos) out->resize(nl);
  return !out->empty();
}

}  // namespace

absl::StatusOr<std::unique_ptr<ControlServer>> ControlServer::Start(
    const std::string& path, ControlHandler handler) {
  ASSIGN_OR_RETURN(sockaddr_un addr, Address(path));
  struct stat st;
  if (lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      return absl::AlreadyExistsError(
          absl::StrCat(path, " exists and is not a socket"));
    }
    // A live service answers; a stale socket file is replaced.
    int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    bool live = probe >= 0 && connect(probe, reinterpret_cast<sockaddr*>(&addr),
                                      sizeof(addr)) == 0;
    if (probe >= 0) close(probe);
    if (live) {
      return absl::AlreadyExistsError(absl::StrCat(
          "another inkan serve already runs on this data directory (", path,
          ")"));
    }
    unlink(path.c_str());
  }
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::InternalError("socket(AF_UNIX) failed");
  mode_t old = umask(0177);  // the socket file is born 0600
  int rc = bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  umask(old);
  if (rc != 0 || chmod(path.c_str(), 0600) != 0 || listen(fd, 16) != 0) {
    close(fd);
    return absl::InternalError(
        absl::StrCat("cannot listen on ", path, ": ", std::strerror(errno)));
  }
  int wake[2];
  if (pipe2(wake, O_CLOEXEC) != 0) {
    close(fd);
    unlink(path.c_str());
    return absl::InternalError("pipe failed");
  }
  return std::unique_ptr<ControlServer>(
      new ControlServer(path, fd, wake[0], wake[1], std::move(handler)));
}

ControlServer::ControlServer(std::string path, int fd, int wake_read,
                             int wake_write, ControlHandler handler)
    : path_(std::move(path)),
      fd_(fd),
      wake_read_(wake_read),
      wake_write_(wake_write),
      handler_(std::move(handler)) {
  thread_ = std::thread([this] { Loop(); });
}

ControlServer::~ControlServer() {
  char c = 0;
  (void)!write(wake_write_, &c, 1);
  thread_.join();
  close(fd_);
  close(wake_read_);
  close(wake_write_);
  unlink(path_.c_str());
}

void ControlServer::Loop() {
  while (true) {
    pollfd fds[2] = {{fd_, POLLIN, 0}, {wake_read_, POLLIN, 0}};
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[1].revents != 0) return;
    if (fds[0].revents & POLLIN) {
      int conn = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (conn < 0) continue;
      Serve(conn);
      close(conn);
    }
  }
}

void ControlServer::Serve(int conn) {
  ucred peer = {};
  socklen_t len = sizeof(peer);
  if (getsockopt(conn, SOL_SOCKET, SO_PEERCRED, &peer, &len) != 0 ||
      (peer.uid != geteuid() && peer.uid != 0)) {
    WriteAll(
        conn,
        Render({{"status", "error"},
                {"code", absl::StrCat(absl::StatusCode::kPermissionDenied)},
                {"message",
                 "only the service's own user may use "
                 "its control socket"}}) +
            "\n");
    return;
  }
  timeval tv = {10, 0};
  setsockopt(conn, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(conn, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  std::string line;
  bool read = ReadLine(conn, &line);
  absl::StatusOr<ControlFields> response =
      absl::InvalidArgumentError("no request, or a request over 64 KiB");
  if (read) {
    auto request = Parse(line);
    Wipe(line);
    if (request.ok()) {
      response = handler_(*request);
      for (auto& [k, v] : *request) Wipe(v);
    } else {
      response = request.status();
    }
  } else {
    Wipe(line);
  }
  ControlFields out;
  if (response.ok()) {
    out = *std::move(response);
    out["status"] = "ok";
  } else {
    out = {{"status", "error"},
           {"code", absl::StrCat(static_cast<int>(response.status().code()))},
           {"message", std::string(response.status().message())}};
  }
  WriteAll(conn, Render(out) + "\n");
}

absl::StatusOr<ControlFields> CallControl(const std::string& path,
                                          const ControlFields& request) {
  ASSIGN_OR_RETURN(sockaddr_un addr, Address(path));
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::InternalError("socket(AF_UNIX) failed");
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return absl::UnavailableError(absl::StrCat(
        "inkan serve is not running on this data directory (no service at ",
        path, ")"));
  }
  timeval tv = {120, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  std::string text = Render(request) + "\n";
  bool sent = WriteAll(fd, text);
  Wipe(text);
  std::string line;
  bool got = sent && ReadLine(fd, &line);
  close(fd);
  if (!got) return absl::UnavailableError("the service did not answer");
  ASSIGN_OR_RETURN(ControlFields response, Parse(line));
  if (response["status"] == "ok") {
    response.erase("status");
    return response;
  }
  int code = static_cast<int>(absl::StatusCode::kUnknown);
  (void)absl::SimpleAtoi(response["code"], &code);
  return absl::Status(static_cast<absl::StatusCode>(code), response["message"]);
}

}  // namespace inkan::server
