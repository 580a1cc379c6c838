// signatures/signHash over keep-alive HTTPS against a real `inkan serve`,
// beside raw C_Sign on the same SoftHSM token, measured in the same run.
//
// Setup, through the built `inkan` binary as an operator would do it (see
// test/e2e/csc_api_test.sh): a fresh data directory in a temp dir (fast
// Argon2 policy), two operators with openssl-made P-256 keys, the ca.init
// ceremony and the custodians' shares, the HTTPS certificate (`inkan tls
// issue`), and --users users, each with a SCAL-1 ec-p256 credential and a
// TOTP authenticator. Then `inkan serve --listen 127.0.0.1:0` as a child.
//
// Authorization happens outside the timed windows: each user logs in, and
// SADs of --sad-hashes random SHA-256 hashes are authorized (PIN + TOTP,
// explicit mode) into a pool. A one-time code is accepted once and only for
// the steps now-1..now+1, so each user gives at most three SADs at once and
// one more per 30 s; when every user is spent the bench waits for the next
// step (and says so).
//
// For each configuration (hashes per call × connections), in this order:
//   1. raw C_Sign, ec-p256, with `conns` threads, for --seconds;
//   2. `conns` threads, each with its own keep-alive TLS connection
//      (client::CscClient, synchronous Boost.Beast), POST signHash with the
//      next `hashes` unused hashes of a SAD taken from the pool: a --warmup
//      phase (handshakes; its rate sizes the pool), then --seconds timed.
// Prints req/s, signatures/s, p50/p99 latency per request and the ratio of
// signatures/s to raw C_Sign, then a line per target.
//
// Exit 0 whatever the figures; 1 if the setup fails or a signHash request
// does not give its signatures (then the figures mean nothing).
#include <fcntl.h>
#include <openssl/rand.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "bench/raw_c_sign.h"
#include "client/csc_client.h"
#include "common/encoding.h"
#include "common/files.h"
#include "common/status_macros.h"
#include "hsm/pkcs11_module.h"
#include "hsm/softhsm.h"
#include "sam/totp.h"

namespace inkan::bench {
namespace {

namespace json = boost::json;
using SteadyClock = std::chrono::steady_clock;

constexpr char kPin[] = "135790";
constexpr char kSha256Oid[] = "2.16.840.1.101.3.4.2.1";
constexpr char kEcdsaSha256Oid[] = "1.2.840.10045.4.3.2";

struct Options {
  std::string inkan = INKAN_BINARY;
  std::vector<int> hashes = {1, 100};
  std::vector<int> conns = {1, 4, 8};
  double seconds = 6;
  double warmup = 1;
  int users = 128;
  int sad_hashes = 1000;
  int repeat = 1;  // rounds over all configurations, interleaved
  // Where the temp dir (the data directory with inkan.db) goes: its
  // filesystem's fsync latency bounds every commit.
  std::string tmp = "/tmp";
  int io_threads = 0;  // 0: serve's default
  bool keep = false;
};

// ---------------------------------------------------------------------------
// Child processes
// ---------------------------------------------------------------------------

// Starts argv[0] (looked up in PATH) with `input` on stdin, stdout on the
// returned pipe, stderr into `err_path`.
absl::StatusOr<std::pair<pid_t, int>> Spawn(
    const std::vector<std::string>& argv, const std::string& input,
    const std::string& err_path) {
  int in[2], out[2];
  if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0)
    return absl::InternalError("pipe failed");
  pid_t pid = fork();
  if (pid < 0) return absl::InternalError("fork failed");
  if (pid == 0) {
    // dup2 leaves the copies open across exec; everything else is O_CLOEXEC.
    int err =
        open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    dup2(in[0], 0);
    dup2(out[1], 1);
    if (err >= 0) dup2(err, 2);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execvp(args[0], args.data());
    _exit(127);
  }
  close(in[0]);
  close(out[1]);
  // Inputs are a PIN or two: far below the pipe's buffer.
  if (!input.empty() && write(in[1], input.data(), input.size()) !=
                            static_cast<ssize_t>(input.size())) {
    close(in[1]);
    return absl::InternalError("cannot write to the child's stdin");
  }
  close(in[1]);
  return std::make_pair(pid, out[0]);
}

std::string ReadAll(int fd) {
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof(buf))) > 0) out.append(buf, n);
  return out;
}

std::string Tail(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  std::string s = ss.str();
  return s.size() > 2000 ? s.substr(s.size() - 2000) : s;
}

class Runner {
 public:
  explicit Runner(std::string dir) : dir_(std::move(dir)) {}

  // Runs a command to its end; its stdout, or an error with its stderr.
  absl::StatusOr<std::string> Run(const std::vector<std::string>& argv,
                                  const std::string& input = "") {
    std::string err = dir_ + "/cmd.err";
    ASSIGN_OR_RETURN(auto child, Spawn(argv, input, err));
    std::string out = ReadAll(child.second);
    close(child.second);
    int status = 0;
    waitpid(child.first, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      return absl::InternalError(absl::StrCat(absl::StrJoin(argv, " "),
                                              " failed (status ", status,
                                              "): ", Tail(err)));
    }
    return out;
  }

 private:
  std::string dir_;
};

// `inkan serve`, stopped with SIGTERM when this goes away.
class Server {
 public:
  static absl::StatusOr<std::unique_ptr<Server>> Start(const std::string& inkan,
                                                       const std::string& dir,
                                                       int io_threads) {
    std::unique_ptr<Server> s(new Server());
    s->err_path_ = dir + "/serve.err";
    std::vector<std::string> argv = {inkan,         "serve",     "--listen",
                                     "127.0.0.1:0", "--sad-ttl", "1h"};
    if (io_threads > 0) {
      argv.insert(argv.end(), {"--io-threads", absl::StrCat(io_threads)});
    }
    ASSIGN_OR_RETURN(auto child, Spawn(argv, "", s->err_path_));
    s->pid_ = child.first;
    s->out_ = fdopen(child.second, "r");
    char* line = nullptr;
    size_t cap = 0;
    while (getline(&line, &cap, s->out_) > 0) {
      absl::string_view l = absl::StripTrailingAsciiWhitespace(line);
      if (absl::ConsumePrefix(&l, "listening on ")) {
        s->base_ = std::string(l);
        break;
      }
    }
    free(line);
    if (s->base_.empty()) {
      return absl::InternalError(
          absl::StrCat("inkan serve did not start: ", Tail(s->err_path_)));
    }
    return s;
  }
  ~Server() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      int status = 0;
      waitpid(pid_, &status, 0);
    }
    if (out_) fclose(out_);
  }
  const std::string& base() const { return base_; }
  // CPU time `inkan serve` has used so far (user + system, all threads), in
  // seconds; 0 if /proc cannot say.
  double CpuSeconds() const {
    auto text = ReadFile(absl::StrCat("/proc/", pid_, "/stat"));
    if (!text.ok()) return 0;
    // Fields after the command name (which may hold spaces) in parentheses:
    // state is field 3, utime 14 and stime 15.
    size_t close = text->rfind(')');
    if (close == std::string::npos) return 0;
    std::vector<std::string> f =
        absl::StrSplit(text->substr(close + 2), ' ', absl::SkipEmpty());
    double utime = 0, stime = 0;
    if (f.size() < 13 || !absl::SimpleAtod(f[11], &utime) ||
        !absl::SimpleAtod(f[12], &stime)) {
      return 0;
    }
    return (utime + stime) / sysconf(_SC_CLK_TCK);
  }

 private:
  Server() = default;
  pid_t pid_ = -1;
  FILE* out_ = nullptr;  // kept open: serve writes more lines later
  std::string base_, err_path_;
};

// ---------------------------------------------------------------------------
// Users, SADs, the pool
// ---------------------------------------------------------------------------

struct User {
  std::string name, credential, bearer;
  SecretBytes totp;
  int64_t last_step = -1;  // the last TOTP step this bench used
};

struct Sad {
  int user = 0;
  std::string sad;
  std::vector<std::string> hashes;  // base64
  size_t next = 0;                  // hashes[next..] are still unused
  size_t left() const { return hashes.size() - next; }
};

absl::StatusOr<json::object> ParseObject(const client::HttpResult& r,
                                         absl::string_view what) {
  if (r.status != 200) {
    return absl::InternalError(
        absl::StrCat(what, ": HTTP ", r.status, " ", r.body));
  }
  boost::system::error_code ec;
  json::value v = json::parse(r.body, ec);
  if (ec || !v.is_object())
    return absl::InternalError(absl::StrCat(what, ": not JSON: ", r.body));
  return v.as_object();
}

std::string Field(const json::object& o, const char* key) {
  const json::value* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->as_string()) : "";
}

class SadPool {
 public:
  SadPool(client::CscClient& control, std::vector<User>& users, int sad_hashes)
      : control_(control), users_(users), sad_hashes_(sad_hashes) {}

  // Authorizes SADs until the pool holds at least `signatures` unused
  // hashes, waiting for the next TOTP step while every user's codes are
  // spent.
  absl::Status FillTo(long signatures) {
    long have = Available();
    while (have < signatures) {
      bool any = false;
      for (size_t i = 0; i < users_.size() && have < signatures; ++i) {
        size_t u = (next_user_ + i) % users_.size();
        ASSIGN_OR_RETURN(std::optional<Sad> sad, Authorize(u));
        if (!sad) continue;
        any = true;
        have += sad->left();
        Put(*std::move(sad));
        next_user_ = (u + 1) % users_.size();
      }
      if (!any) {
        int64_t now = absl::ToUnixSeconds(absl::Now());
        int64_t wait = 30 - now % 30 + 1;
        std::printf(
            "  (every user's one-time codes are spent: waiting %llds for the "
            "next TOTP step, %ld signatures short)\n",
            static_cast<long long>(wait), signatures - have);
        std::fflush(stdout);
        std::this_thread::sleep_for(std::chrono::seconds(wait));
      }
    }
    return absl::OkStatus();
  }

  long Available() {
    std::lock_guard<std::mutex> l(mu_);
    long n = 0;
    for (const Sad& s : pool_) n += s.left();
    return n;
  }
  std::optional<Sad> Take() {
    std::lock_guard<std::mutex> l(mu_);
    if (pool_.empty()) return std::nullopt;
    Sad s = std::move(pool_.front());
    pool_.pop_front();
    return s;
  }
  void Put(Sad s) {
    if (s.left() == 0) return;
    std::lock_guard<std::mutex> l(mu_);
    pool_.push_back(std::move(s));
  }
  int authorized() const { return authorized_; }

 private:
  // One credentials/authorize for user `u` with a fresh set of hashes, or
  // nullopt if the user has no unused one-time code right now.
  absl::StatusOr<std::optional<Sad>> Authorize(size_t u) {
    User& user = users_[u];
    const int64_t now = absl::ToUnixSeconds(absl::Now());
    const int64_t now_step = now / 30;
    // The previous step's code only while it is sure to be still valid when
    // the server checks it.
    int64_t step =
        std::max(user.last_step + 1, now_step - (now % 30 < 25 ? 1 : 0));
    if (step > now_step + 1) return std::nullopt;
    ASSIGN_OR_RETURN(std::string code,
                     sam::TotpCode(user.totp, sam::TotpParams{},
                                   absl::FromUnixSeconds(step * 30)));
    user.last_step = step;
    Sad sad;
    sad.user = static_cast<int>(u);
    std::string body =
        absl::StrCat("{\"credentialID\":\"", user.credential,
                     "\",\"numSignatures\":", sad_hashes_, ",\"hashes\":[");
    for (int i = 0; i < sad_hashes_; ++i) {
      unsigned char h[32];
      if (RAND_bytes(h, sizeof(h)) != 1)
        return absl::InternalError("RAND_bytes failed");
      sad.hashes.push_back(
          Base64Encode(absl::string_view(reinterpret_cast<char*>(h), 32)));
      absl::StrAppend(&body, i ? "," : "", "\"", sad.hashes.back(), "\"");
    }
    absl::StrAppend(&body, "],\"hashAlgorithmOID\":\"", kSha256Oid,
                    "\",\"authData\":[{\"id\":\"PIN\",\"value\":\"", kPin,
                    "\"},{\"id\":\"OTP\",\"value\":\"", code, "\"}]}");
    ASSIGN_OR_RETURN(auto r,
                     control_.Post("credentials/authorize", body, user.bearer));
    ASSIGN_OR_RETURN(json::object o, ParseObject(r, "credentials/authorize"));
    sad.sad = Field(o, "SAD");
    if (sad.sad.empty()) return absl::InternalError("authorize: no SAD");
    ++authorized_;
    return sad;
  }

  client::CscClient& control_;
  std::vector<User>& users_;
  const int sad_hashes_;
  size_t next_user_ = 0;
  int authorized_ = 0;
  std::mutex mu_;
  std::deque<Sad> pool_;
};

// ---------------------------------------------------------------------------
// Setup
// ---------------------------------------------------------------------------

struct Stack {
  std::string dir, data, cacert;
  std::vector<User> users;
  std::unique_ptr<Server> server;
};

absl::Status WriteTo(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary);
  f << text;
  return f ? absl::OkStatus()
           : absl::InternalError(absl::StrCat("cannot write ", path));
}

// The first line that starts with `prefix`, without it.
std::string LineAfter(const std::string& text, absl::string_view prefix) {
  for (absl::string_view l : absl::StrSplit(text, '\n')) {
    if (absl::ConsumePrefix(&l, prefix)) return std::string(l);
  }
  return "";
}

absl::Status SetUp(const Options& opt, Stack& st) {
  const std::string& I = opt.inkan;
  Runner run(st.dir);
  st.data = st.dir + "/data";
  setenv("INKAN_DATA", st.data.c_str(), 1);
  const std::string k = st.dir + "/";
  std::vector<std::string> shares;
  for (const char* who : {"alice", "bob"}) {
    std::string key = k + who + ".key";
    RETURN_IF_ERROR(
        run.Run({"openssl", "genpkey", "-algorithm", "EC", "-pkeyopt",
                 "ec_paramgen_curve:P-256", "-out", key})
            .status());
    RETURN_IF_ERROR(run.Run({"openssl", "pkey", "-in", key, "-pubout", "-out",
                             k + who + ".pub"})
                        .status());
  }
  RETURN_IF_ERROR(
      run.Run({I, "init", "--quorum", "2", "--policy", "argon2.m_cost_kib=1024",
               "--policy", "argon2.t_cost=1"})
          .status());
  for (const char* who : {"alice", "bob"}) {
    RETURN_IF_ERROR(
        run.Run({I, "operator", "add", who, "--public-key", k + who + ".pub"})
            .status());
  }
  ASSIGN_OR_RETURN(
      std::string out,
      run.Run({I, "ca", "init", "--subject", "CN=inkan bench CA,O=inkan,C=JP",
               "--operator", "alice", "--key", k + "alice.key"}));
  std::string id = LineAfter(out, "request ");
  if (id.empty()) return absl::InternalError("ca init: no request id");
  RETURN_IF_ERROR(run.Run({I, "ceremony", "approve", "--id", id, "--operator",
                           "bob", "--key", k + "bob.key"})
                      .status());
  RETURN_IF_ERROR(run.Run({I, "ceremony", "execute", "--id", id}).status());
  ASSIGN_OR_RETURN(out, run.Run({I, "ca", "certificate"}));
  st.cacert = k + "root.pem";
  RETURN_IF_ERROR(WriteTo(st.cacert, out));
  for (const char* who : {"alice", "bob"}) {
    ASSIGN_OR_RETURN(out, run.Run({I, "ca", "share", "--custodian", who}));
    RETURN_IF_ERROR(WriteTo(k + who + ".sealed", out));
    ASSIGN_OR_RETURN(
        out, run.Run({I, "ca", "open-share", "--in", k + who + ".sealed",
                      "--key", k + who + ".key"}));
    RETURN_IF_ERROR(WriteTo(k + who + ".share", out));
    shares.insert(shares.end(), {"--share", k + who + ".share"});
  }
  std::vector<std::string> tls = {I, "tls", "issue", "--name", "127.0.0.1"};
  tls.insert(tls.end(), shares.begin(), shares.end());
  RETURN_IF_ERROR(run.Run(tls).status());

  const std::string pin_in = absl::StrCat(kPin, "\n");
  for (int i = 0; i < opt.users; ++i) {
    User u;
    u.name = absl::StrCat("bench", i);
    RETURN_IF_ERROR(run.Run({I, "user", "add", u.name}, pin_in).status());
    ASSIGN_OR_RETURN(out, run.Run({I, "credential", "create", "--user", u.name,
                                   "--alg", "ec-p256", "--scal", "1"},
                                  pin_in));
    u.credential = std::string(absl::StripAsciiWhitespace(out));
    ASSIGN_OR_RETURN(out,
                     run.Run({I, "totp", "enroll", "--user", u.name}, pin_in));
    size_t at = out.find("secret=");
    if (at == std::string::npos)
      return absl::InternalError("totp enroll: no secret in the URI");
    std::string b32 = out.substr(at + 7);
    b32 = b32.substr(0, b32.find_first_of("&\n"));
    ASSIGN_OR_RETURN(u.totp, sam::Base32Decode(b32));
    st.users.push_back(std::move(u));
  }
  ASSIGN_OR_RETURN(st.server, Server::Start(I, st.dir, opt.io_threads));
  return absl::OkStatus();
}

absl::Status LogIn(client::CscClient& c, std::vector<User>& users) {
  for (User& u : users) {
    ASSIGN_OR_RETURN(auto r,
                     c.Post("auth/login", "{}",
                            absl::StrCat("Basic ", Base64Encode(absl::StrCat(
                                                       u.name, ":", kPin)))));
    ASSIGN_OR_RETURN(json::object o, ParseObject(r, "auth/login"));
    std::string token = Field(o, "access_token");
    if (token.empty()) return absl::InternalError("auth/login: no token");
    u.bearer = absl::StrCat("Bearer ", token);
  }
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------
// The load
// ---------------------------------------------------------------------------

struct Load {
  long requests = 0, signatures = 0, errors = 0;
  double seconds = 0;
  double server_cpu_s = 0;  // CPU time inkan serve used meanwhile
  bool ran_out = false;     // the pool emptied before the time was up
  std::vector<double> latency_ms;
  std::string first_error;
};

// One request a client thread makes: its method, body and Authorization
// header, and how many signatures a good answer carries (0: none expected).
struct Call {
  std::string method, body, authorization;
  long signatures = 0;
};
// Fills `call` with the next request, or returns false when there is none
// (the SAD pool is empty). Called on the client's own thread.
using NextCall = std::function<bool(size_t thread, Call& call)>;

// `clients.size()` threads each send `next`'s requests for `duration` (or
// until `next` has none). A signHash answer counts only if it is 200 with one
// signature per hash; any other request only if it is 200.
Load Drive(std::vector<std::unique_ptr<client::CscClient>>& clients,
           const NextCall& next, absl::Duration duration) {
  const size_t n = clients.size();
  std::vector<Load> per(n);
  std::vector<SteadyClock::time_point> ended(n);
  std::atomic<bool> go{false};
  SteadyClock::time_point start;
  const auto span = absl::ToChronoNanoseconds(duration);
  std::vector<std::thread> threads;
  for (size_t t = 0; t < n; ++t) {
    threads.emplace_back([&, t] {
      while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
      const auto end = start + span;
      Load& me = per[t];
      me.latency_ms.reserve(1 << 16);
      Call call;
      while (SteadyClock::now() < end) {
        if (!next(t, call)) {
          me.ran_out = true;
          break;
        }
        const auto t0 = SteadyClock::now();
        auto r = clients[t]->Post(call.method, call.body, call.authorization);
        const auto t1 = SteadyClock::now();
        // {"signatures":["…","…"]}: two quotes per signature, two more.
        const bool good = r.ok() && r->status == 200 &&
                          (call.signatures == 0 ||
                           std::count(r->body.begin(), r->body.end(), '"') ==
                               2 * call.signatures + 2);
        if (good) {
          ++me.requests;
          me.signatures += call.signatures;
          me.latency_ms.push_back(
              std::chrono::duration<double, std::milli>(t1 - t0).count());
        } else {
          if (me.errors++ == 0) {
            me.first_error = r.ok() ? absl::StrCat("HTTP ", r->status, " ",
                                                   r->body.substr(0, 300))
                                    : std::string(r.status().message());
          }
          if (!r.ok()) break;
        }
      }
      ended[t] = SteadyClock::now();
    });
  }
  start = SteadyClock::now();
  go.store(true, std::memory_order_release);
  for (auto& th : threads) th.join();
  Load all;
  SteadyClock::time_point last = start;
  for (size_t t = 0; t < n; ++t) {
    all.requests += per[t].requests;
    all.signatures += per[t].signatures;
    all.errors += per[t].errors;
    all.ran_out |= per[t].ran_out;
    if (all.first_error.empty()) all.first_error = per[t].first_error;
    all.latency_ms.insert(all.latency_ms.end(), per[t].latency_ms.begin(),
                          per[t].latency_ms.end());
    last = std::max(last, ended[t]);
  }
  all.seconds = std::chrono::duration<double>(last - start).count();
  return all;
}

// signHash with `per_call` hashes each: every thread takes a SAD from the
// pool and uses its hashes in order, then the next SAD.
Load DriveSignHash(std::vector<std::unique_ptr<client::CscClient>>& clients,
                   const std::vector<User>& users, SadPool& pool, int per_call,
                   absl::Duration duration) {
  std::vector<std::optional<Sad>> held(clients.size());
  Load load = Drive(
      clients,
      [&](size_t t, Call& call) {
        std::optional<Sad>& sad = held[t];
        if (!sad || sad->left() == 0) {
          sad = pool.Take();
          if (!sad) return false;
        }
        const User& u = users[sad->user];
        const size_t k = std::min<size_t>(per_call, sad->left());
        call.method = "signatures/signHash";
        call.authorization = u.bearer;
        call.signatures = static_cast<long>(k);
        call.body = absl::StrCat("{\"credentialID\":\"", u.credential,
                                 "\",\"SAD\":\"", sad->sad, "\",\"hashes\":[");
        for (size_t i = 0; i < k; ++i) {
          absl::StrAppend(&call.body, i ? ",\"" : "\"",
                          sad->hashes[sad->next + i], "\"");
        }
        absl::StrAppend(&call.body, "],\"hashAlgorithmOID\":\"", kSha256Oid,
                        "\",\"signAlgo\":\"", kEcdsaSha256Oid, "\"}");
        sad->next += k;
        return true;
      },
      duration);
  for (auto& sad : held) {
    if (sad) pool.Put(*std::move(sad));
  }
  return load;
}

// The HTTPS ceiling of this server on this machine: `info` (no signing, no
// database, no audit entry), over the same kind of keep-alive connections,
// with a bearer header and a small JSON body like a 1-hash signHash's.
Load DriveInfo(std::vector<std::unique_ptr<client::CscClient>>& clients,
               const std::vector<User>& users, absl::Duration duration) {
  return Drive(
      clients,
      [&](size_t t, Call& call) {
        call.method = "info";
        call.authorization = users[t % users.size()].bearer;
        call.body = "{\"lang\":\"en-US\"}";
        call.signatures = 0;
        return true;
      },
      duration);
}

double Percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  size_t i = std::min(v.size() - 1, static_cast<size_t>(p * v.size()));
  std::nth_element(v.begin(), v.begin() + i, v.end());
  return v[i];
}

// The targets of issue 4: signatures/s against raw C_Sign.
std::optional<double> TargetFor(int per_call) {
  if (per_call == 1) return 0.70;
  if (per_call == 100) return 0.95;
  return std::nullopt;
}

struct Row {
  int per_call, conns;
  double req_s, sig_s, p50, p99, raw, ratio;
  // `info` req/s over as many connections, and the best ratio any server
  // could reach with it (see Bound).
  double info_req_s, bound;
  // CPU time of inkan serve per request, µs, for signHash and for info:
  // what the server itself spends, much less sensitive to the machine's
  // other load than the rates are.
  double srv_us, info_srv_us;
  bool ran_out;
};

// The best signHash/raw ratio a server could reach on this machine at
// `per_call` hashes per request. Client, server and token share the same
// CPUs; a signHash costs at least what an `info` request costs (TLS, HTTP,
// JSON, the client's side of it) plus one C_Sign per hash, and those costs
// add up whether the load is one request at a time (latency) or enough to
// keep every core busy (throughput). With `info` at C req/s and raw C_Sign at
// R sig/s over the same number of connections/threads, k hashes per call
// take at least 1/C + k/R seconds of that capacity, so the signatures/s are
// at most k / (1/C + k/R), and the ratio to R at most 1 / (1 + R / (k C)).
// It leaves out the durable audit entry, the SAD checks and the larger body
// of a k-hash call, so it is an upper bound.
double Bound(double raw, double info, int per_call) {
  if (raw <= 0 || info <= 0) return 0;
  return 1 / (1 + raw / (per_call * info));
}

// One configuration: raw C_Sign with `conns` threads, then signHash with
// `conns` connections (warm-up, then the timed run).
absl::StatusOr<Row> MeasureOne(const Options& opt, const Stack& st,
                               SadPool& pool, hsm::Pkcs11Module& module,
                               CK_SLOT_ID slot, const SecretBytes& pin,
                               int per_call, int conns, bool* errors) {
  const absl::Duration measure = absl::Seconds(opt.seconds);
  ASSIGN_OR_RETURN(double raw,
                   RawCSignRate(module.fn(), slot, pin,
                                crypto::KeyAlgorithm::kEcP256, conns, measure));
  std::vector<std::unique_ptr<client::CscClient>> clients;
  for (int i = 0; i < conns; ++i) {
    ASSIGN_OR_RETURN(auto c,
                     client::CscClient::Connect(st.server->base(), st.cacert));
    clients.push_back(std::move(c));
  }
  // Warm-up: the TLS handshakes, and a rate to size the pool with.
  RETURN_IF_ERROR(pool.FillTo(2L * conns * opt.sad_hashes));
  Load w = DriveSignHash(clients, st.users, pool, per_call,
                         absl::Seconds(opt.warmup));
  double rate = w.seconds > 0 ? w.signatures / w.seconds : 0;
  RETURN_IF_ERROR(pool.FillTo(static_cast<long>(rate * opt.seconds * 1.5) +
                              2L * conns * opt.sad_hashes));
  std::printf("  %d hashes/call × %d conns: raw C_Sign %.0f sig/s; info … ",
              per_call, conns, raw);
  std::fflush(stdout);
  // The HTTPS ceiling on the same connections, just before signHash.
  double cpu0 = st.server->CpuSeconds();
  Load info = DriveInfo(clients, st.users, measure);
  double cpu1 = st.server->CpuSeconds();
  const double info_rate = info.seconds > 0 ? info.requests / info.seconds : 0;
  std::printf("%.0f req/s; signHash … ", info_rate);
  std::fflush(stdout);
  Load m = DriveSignHash(clients, st.users, pool, per_call, measure);
  double cpu2 = st.server->CpuSeconds();
  if (w.errors + m.errors + info.errors > 0) {
    *errors = true;
    std::fprintf(stderr, "errors (%ld signHash, %ld info): %s\n",
                 w.errors + m.errors, info.errors,
                 (w.errors   ? w.first_error
                  : m.errors ? m.first_error
                             : info.first_error)
                     .c_str());
  }
  Row r{per_call,
        conns,
        m.requests / m.seconds,
        m.signatures / m.seconds,
        Percentile(m.latency_ms, 0.50),
        Percentile(m.latency_ms, 0.99),
        raw,
        0,
        info_rate,
        Bound(raw, info_rate, per_call),
        m.requests > 0 ? 1e6 * (cpu2 - cpu1) / m.requests : 0,
        info.requests > 0 ? 1e6 * (cpu1 - cpu0) / info.requests : 0,
        m.ran_out};
  r.ratio = r.raw > 0 ? r.sig_s / r.raw : 0;
  std::printf("%.0f sig/s%s\n", r.sig_s,
              m.ran_out ? " (the SAD pool ran out early)" : "");
  std::fflush(stdout);
  return r;
}

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// The machine is shared: its load average says how much of it was ours.
std::string LoadAverage() {
  auto text = ReadFile("/proc/loadavg");
  if (!text.ok()) return "?";
  std::vector<std::string> f = absl::StrSplit(*text, ' ');
  return f.size() >= 3 ? absl::StrJoin(f.begin(), f.begin() + 3, " ") : "?";
}

// One row per configuration: the median of its rounds (the ratio is the
// median of each round's own ratio, raw and signHash measured side by side;
// so is the bound, from that round's raw and info).
void PrintTable(const Options& opt,
                const std::map<std::pair<int, int>, std::vector<Row>>& runs) {
  const bool many = opt.repeat > 1;
  std::printf("\n%-11s %5s %8s %8s %7s %7s %14s %7s %s%7s %10s %7s %10s %11s\n",
              "hashes/call", "conns", "req/s", "sig/s", "p50_ms", "p99_ms",
              "rawCSign_sig/s", "ratio", many ? "  ratio_min-max " : "",
              "target", "info_req/s", "bound", "srv_us/req", "info_srv_us");
  std::map<int, std::vector<std::string>> verdicts;
  std::map<int, bool> met, reachable;
  for (int per_call : opt.hashes) {
    for (int conns : opt.conns) {
      const std::vector<Row>& rs = runs.at({per_call, conns});
      auto med = [&](double Row::*f) {
        std::vector<double> v;
        for (const Row& r : rs) v.push_back(r.*f);
        return Median(v);
      };
      double lo = 1e9, hi = 0;
      bool short_run = false;
      for (const Row& r : rs) {
        lo = std::min(lo, r.ratio);
        hi = std::max(hi, r.ratio);
        short_run |= r.ran_out;
      }
      const double ratio = med(&Row::ratio);
      const double bound = med(&Row::bound);
      auto t = TargetFor(per_call);
      std::string range =
          many ? absl::StrFormat("  %5.1f-%5.1f%%  ", 100 * lo, 100 * hi) : "";
      std::printf(
          "%-11d %5d %8.0f %8.0f %7.2f %7.2f %14.0f %6.1f%% %s%7s %10.0f "
          "%6.1f%% %10.0f %11.0f%s\n",
          per_call, conns, med(&Row::req_s), med(&Row::sig_s), med(&Row::p50),
          med(&Row::p99), med(&Row::raw), 100 * ratio, range.c_str(),
          t ? absl::StrCat(">=", static_cast<int>(100 * *t), "%").c_str() : "-",
          med(&Row::info_req_s), 100 * bound, med(&Row::srv_us),
          med(&Row::info_srv_us),
          short_run ? "  (short: the SAD pool ran out)" : "");
      if (t) {
        met.try_emplace(per_call, true);
        reachable.try_emplace(per_call, true);
        met[per_call] &= ratio >= *t;
        reachable[per_call] &= bound >= *t;
        verdicts[per_call].push_back(
            absl::StrFormat("%d conns %.1f%% of a possible %.1f%%", conns,
                            100 * ratio, 100 * bound));
      }
    }
  }
  for (const auto& [per_call, parts] : verdicts) {
    std::printf(
        "target %d hash%s/call >= %d%% of raw C_Sign sig/s: %s%s (%s)\n",
        per_call, per_call == 1 ? "" : "es",
        static_cast<int>(100 * *TargetFor(per_call)),
        met[per_call] ? "met" : "NOT met",
        reachable[per_call]
            ? ""
            : "; above what this machine allows at some connection count",
        absl::StrJoin(parts, ", ").c_str());
  }
  std::printf(
      "(info_req/s: this server's HTTPS ceiling, `info` over the same "
      "connections, no signing and no audit; bound: the best ratio any server "
      "could reach given it and raw C_Sign, 1 / (1 + raw / (hashes × info)); "
      "srv_us/req, info_srv_us: inkan serve's CPU time per signHash and per "
      "info request)\n");
}

absl::StatusOr<std::vector<int>> ParseList(absl::string_view text) {
  std::vector<int> out;
  for (absl::string_view p : absl::StrSplit(text, ',')) {
    int v;
    if (!absl::SimpleAtoi(p, &v) || v <= 0)
      return absl::InvalidArgumentError(absl::StrCat("bad list ", text));
    out.push_back(v);
  }
  return out;
}

absl::StatusOr<Options> ParseArgs(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> absl::StatusOr<std::string> {
      if (i + 1 >= argc)
        return absl::InvalidArgumentError(absl::StrCat(a, " needs a value"));
      return std::string(argv[++i]);
    };
    if (a == "--keep") {
      o.keep = true;
      continue;
    }
    static const std::set<std::string> kValued = {
        "--inkan", "--hashes",     "--conns",  "--seconds", "--warmup",
        "--users", "--sad-hashes", "--repeat", "--tmp",     "--io-threads"};
    if (!kValued.count(a))
      return absl::InvalidArgumentError(absl::StrCat("unknown option ", a));
    ASSIGN_OR_RETURN(std::string v, value());
    bool ok = true;
    if (a == "--inkan") {
      o.inkan = v;
    } else if (a == "--hashes") {
      ASSIGN_OR_RETURN(o.hashes, ParseList(v));
    } else if (a == "--conns") {
      ASSIGN_OR_RETURN(o.conns, ParseList(v));
    } else if (a == "--seconds") {
      ok = absl::SimpleAtod(v, &o.seconds) && o.seconds > 0;
    } else if (a == "--warmup") {
      ok = absl::SimpleAtod(v, &o.warmup) && o.warmup > 0;
    } else if (a == "--users") {
      ok = absl::SimpleAtoi(v, &o.users) && o.users > 0;
    } else if (a == "--repeat") {
      ok = absl::SimpleAtoi(v, &o.repeat) && o.repeat > 0;
    } else if (a == "--io-threads") {
      ok = absl::SimpleAtoi(v, &o.io_threads) && o.io_threads > 0;
    } else if (a == "--tmp") {
      o.tmp = v;
    } else if (a == "--sad-hashes") {
      ok = absl::SimpleAtoi(v, &o.sad_hashes) && o.sad_hashes > 0 &&
           o.sad_hashes <= 1000;
    } else {
      return absl::InvalidArgumentError(absl::StrCat("unknown option ", a));
    }
    if (!ok) return absl::InvalidArgumentError(absl::StrCat("bad ", a));
  }
  return o;
}

constexpr char kUsage[] =
    "usage: inkan_bench_sign_hash [--inkan PATH] [--hashes 1,100] "
    "[--conns 1,4,8]\n"
    "         [--seconds 6] [--warmup 1] [--users 128] [--sad-hashes 1000] "
    "[--repeat 1]\n         [--tmp /tmp] [--io-threads N] [--keep]\n";

int Main(int argc, char** argv) {
  auto parsed = ParseArgs(argc, argv);
  if (!parsed.ok()) {
    std::fprintf(stderr, "%s\n%s",
                 std::string(parsed.status().message()).c_str(), kUsage);
    return 2;
  }
  const Options& opt = *parsed;
  signal(SIGPIPE, SIG_IGN);
  auto fail = [](const absl::Status& s) {
    std::fprintf(stderr, "bench setup: %s\n", std::string(s.message()).c_str());
    return 1;
  };
  std::string tmpl = opt.tmp + "/inkan-bench-sign-hash-XXXXXX";
  if (!mkdtemp(tmpl.data()))
    return fail(absl::InternalError(absl::StrCat("mkdtemp in ", opt.tmp)));
  Stack st;
  st.dir = tmpl;
  struct Cleanup {
    Stack& st;
    bool keep;
    ~Cleanup() {
      st.server.reset();
      if (keep) {
        std::printf("kept %s\n", st.dir.c_str());
      } else {
        std::error_code ec;
        std::filesystem::remove_all(st.dir, ec);
      }
    }
  } cleanup{st, opt.keep};

  std::printf(
      "setting up %s: CA, TLS certificate, %d users with SCAL-1 "
      "ec-p256 credentials and TOTP…\n",
      st.dir.c_str(), opt.users);
  std::fflush(stdout);
  if (auto s = SetUp(opt, st); !s.ok()) return fail(s);
  std::printf("inkan serve at %s\n", st.server->base().c_str());

  // Raw C_Sign: this process on the instance's own token.
  if (auto s = hsm::UseSoftHsmDir(st.data + "/hsm"); !s.ok()) return fail(s);
  auto pin = ReadSecretFile(st.data + "/hsm/user.pin");
  if (!pin.ok()) return fail(pin.status());
  auto conf = ReadFile(st.data + "/inkan.conf");
  if (!conf.ok()) return fail(conf.status());
  std::string label = LineAfter(*conf, "pkcs11.token = ");
  auto module = hsm::Pkcs11Module::Shared(hsm::DefaultSoftHsmModule());
  if (!module.ok()) return fail(module.status());
  auto slot = (*module)->FindTokenSlot(label);
  if (!slot.ok()) return fail(slot.status());

  auto control = client::CscClient::Connect(st.server->base(), st.cacert);
  if (!control.ok()) return fail(control.status());
  if (auto s = LogIn(**control, st.users); !s.ok()) return fail(s);
  SadPool pool(**control, st.users, opt.sad_hashes);

  std::printf(
      "ec-p256, SHA-256; %g s per configuration after %g s of warm-up; SADs "
      "of %d hashes; %d round%s; %u vCPUs, load average %s\n\n",
      opt.seconds, opt.warmup, opt.sad_hashes, opt.repeat,
      opt.repeat == 1 ? "" : "s", std::thread::hardware_concurrency(),
      LoadAverage().c_str());
  std::fflush(stdout);

  std::map<std::pair<int, int>, std::vector<Row>> runs;
  bool errors = false;
  for (int rep = 1; rep <= opt.repeat; ++rep) {
    if (opt.repeat > 1) std::printf("round %d of %d\n", rep, opt.repeat);
    for (int per_call : opt.hashes) {
      for (int conns : opt.conns) {
        auto row = MeasureOne(opt, st, pool, **module, *slot, *pin, per_call,
                              conns, &errors);
        if (!row.ok()) return fail(row.status());
        runs[{per_call, conns}].push_back(*row);
      }
    }
  }
  PrintTable(opt, runs);
  std::printf("(%d SADs authorized; load average %s)\n", pool.authorized(),
              LoadAverage().c_str());
  return errors ? 1 : 0;
}

}  // namespace
}  // namespace inkan::bench

int main(int argc, char** argv) { return inkan::bench::Main(argc, argv); }
