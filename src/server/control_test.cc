#include "server/control.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <fstream>

namespace inkan::server {
namespace {

std::string TempPath() {
  char tmpl[] = "/tmp/inkan-control-test-XXXXXX";
  return std::string(mkdtemp(tmpl)) + "/control.sock";
}

TEST(ControlTest, RequestAndResponseRoundTrip) {
  std::string path = TempPath();
  auto server = ControlServer::Start(
      path, [](const ControlFields& req) -> absl::StatusOr<ControlFields> {
        if (req.at("op") == "fail")
          return absl::FailedPreconditionError("the CA key is not active");
        return ControlFields{{"echo", req.at("op")}, {"n", "3"}};
      });
  ASSERT_TRUE(server.ok()) << server.status();
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  auto ok = CallControl(path, {{"op", "hello"}});
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ((*ok)["echo"], "hello");
  EXPECT_EQ((*ok)["n"], "3");
  EXPECT_EQ(ok->count("status"), 0u);

  auto err = CallControl(path, {{"op", "fail"}});
  EXPECT_TRUE(absl::IsFailedPrecondition(err.status()));
  EXPECT_EQ(err.status().message(), "the CA key is not active");
}

TEST(ControlTest, NoServiceIsUnavailable) {
  auto r = CallControl(TempPath(), {{"op", "x"}});
  EXPECT_TRUE(absl::IsUnavailable(r.status())) << r.status();
}

TEST(ControlTest, ASecondServiceOnTheSameSocketIsRefusedAStaleOneReplaced) {
  std::string path = TempPath();
  auto handler = [](const ControlFields&) -> absl::StatusOr<ControlFields> {
    return ControlFields{};
  };
  {
    auto first = ControlServer::Start(path, handler);
    ASSERT_TRUE(first.ok());
    EXPECT_TRUE(
        absl::IsAlreadyExists(ControlServer::Start(path, handler).status()));
  }
  // A stale socket file (left by a crash) is replaced.
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  std::strcpy(addr.sun_path, path.c_str());
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  close(fd);
  EXPECT_TRUE(ControlServer::Start(path, handler).ok());
  // A regular file there is not touched.
  std::string file = TempPath();
  std::ofstream(file) << "precious";
  EXPECT_TRUE(
      absl::IsAlreadyExists(ControlServer::Start(file, handler).status()));
}

TEST(ControlTest, GarbageAndOversizedRequestsGetAnErrorAndTheServerGoesOn) {
  std::string path = TempPath();
  auto server = ControlServer::Start(
      path, [](const ControlFields&) -> absl::StatusOr<ControlFields> {
        return ControlFields{{"fine", "yes"}};
      });
  ASSERT_TRUE(server.ok());
  auto raw = [&](const std::string& bytes) {
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr = {};
    addr.sun_family = AF_UNIX;
    std::strcpy(addr.sun_path, path.c_str());
    EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    (void)!write(fd, bytes.data(), bytes.size());
    shutdown(fd, SHUT_WR);
    std::string out;
    char buf[256];
    ssize_t n;
    while ((n = read(fd, buf, sizeof(buf))) > 0) out.append(buf, n);
    close(fd);
    return out;
  };
  EXPECT_THAT(raw("not json\n"), testing::HasSubstr("does not parse"));
  EXPECT_THAT(raw(std::string(70000, 'x')), testing::HasSubstr("64 KiB"));
  auto ok = CallControl(path, {{"op", "x"}});
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ((*ok)["fine"], "yes");
}

}  // namespace
}  // namespace inkan::server
