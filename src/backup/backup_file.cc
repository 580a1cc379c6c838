#include "backup/backup_file.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <set>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/encoding.h"
#include "common/files.h"
#include "common/status_macros.h"

namespace inkan::backup {
namespace {

constexpr size_t kChunk = 1 << 16;
constexpr int64_t kMaxManifest = 1 << 20;
constexpr size_t kMaxTrailer = 512;

// SHA-256 over bytes given in pieces.
class Sha256Stream {
 public:
  Sha256Stream() : ctx_(EVP_MD_CTX_new()) {
    EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr);
  }
  void Update(absl::string_view data) {
    EVP_DigestUpdate(ctx_.get(), data.data(), data.size());
  }
  std::string Final() {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_DigestFinal_ex(ctx_.get(), md, &len);
    return std::string(reinterpret_cast<char*>(md), len);
  }

 private:
  struct Free {
    void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
  };
  std::unique_ptr<EVP_MD_CTX, Free> ctx_;
};

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};
using File = std::unique_ptr<std::FILE, FileCloser>;

absl::StatusOr<File> OpenRead(const std::string& path) {
  File f(std::fopen(path.c_str(), "rbe"));
  if (!f) return ErrnoError("cannot open", path);
  return f;
}

// Hashes a whole file; its size in `size`.
absl::StatusOr<std::string> HashFile(const std::string& path, int64_t& size) {
  ASSIGN_OR_RETURN(File f, OpenRead(path));
  Sha256Stream h;
  std::string buf(kChunk, '\0');
  size = 0;
  for (;;) {
    size_t n = std::fread(buf.data(), 1, buf.size(), f.get());
    h.Update(absl::string_view(buf.data(), n));
    size += n;
    if (n < buf.size()) break;
  }
  if (std::ferror(f.get())) return ErrnoError("cannot read", path);
  return h.Final();
}

bool SafeComponent(absl::string_view c) {
  if (c.empty() || c == "." || c == ".." || c.size() > 100) return false;
  for (char ch : c) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(ch)) && ch != '.' &&
        ch != '_' && ch != '-') {
      return false;
    }
  }
  return true;
}

bool SafePartName(absl::string_view name) {
  std::vector<absl::string_view> parts = absl::StrSplit(name, '/');
  if (parts.size() > 2) return false;
  for (absl::string_view p : parts) {
    if (!SafeComponent(p)) return false;
  }
  return true;
}

std::string KeyFingerprint(absl::string_view der) {
  Sha256Stream h;
  h.Update(der);
  return HexEncode(h.Final());
}

absl::Status Damaged(const std::string& path, absl::string_view what) {
  return absl::DataLossError(absl::StrCat(
      "backup ", path, " is damaged or was changed: ", what,
      "; do not use it (use another copy of this backup, or take a new "
      "one if the instance still runs)"));
}

// Field access for ParseManifest: InvalidArgument naming the field.
class Fields {
 public:
  explicit Fields(const boost::json::object& o) : o_(o) {}
  absl::StatusOr<std::string> Str(const char* key) const {
    const boost::json::value* v = o_.if_contains(key);
    if (v == nullptr || !v->is_string()) {
      return absl::InvalidArgumentError(
          absl::StrCat("manifest field \"", key, "\" missing or not a string"));
    }
    return std::string(v->as_string());
  }
  absl::StatusOr<int64_t> Int(const char* key) const {
    const boost::json::value* v = o_.if_contains(key);
    if (v == nullptr || !v->is_int64() || v->as_int64() < 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "manifest field \"", key, "\" missing or not a number >= 0"));
    }
    return v->as_int64();
  }
  absl::StatusOr<std::string> B64(const char* key) const {
    ASSIGN_OR_RETURN(std::string s, Str(key));
    absl::StatusOr<std::string> raw = Base64Decode(s);
    if (!raw.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("manifest field \"", key, "\" is not base64"));
    }
    return raw;
  }
  absl::StatusOr<std::string> Hex(const char* key, size_t want) const {
    ASSIGN_OR_RETURN(std::string s, Str(key));
    absl::StatusOr<std::string> raw = HexDecode(s);
    if (!raw.ok() || raw->size() != want) {
      return absl::InvalidArgumentError(absl::StrCat(
          "manifest field \"", key, "\" is not ", want, " bytes of hex"));
    }
    return raw;
  }
  absl::StatusOr<const boost::json::array*> Array(const char* key) const {
    const boost::json::value* v = o_.if_contains(key);
    if (v == nullptr || !v->is_array()) {
      return absl::InvalidArgumentError(
          absl::StrCat("manifest field \"", key, "\" missing or not a list"));
    }
    return &v->as_array();
  }

 private:
  const boost::json::object& o_;
};

absl::Status WriteAll(std::FILE* f, absl::string_view data,
                      const std::string& path) {
  if (!data.empty() &&
      std::fwrite(data.data(), 1, data.size(), f) != data.size())
    return ErrnoError("cannot write", path);
  return absl::OkStatus();
}

// Reads exactly n bytes (fewer only at the end of the file).
std::string ReadUpTo(std::FILE* f, size_t n) {
  std::string out(n, '\0');
  size_t got = std::fread(out.data(), 1, n, f);
  out.resize(got);
  return out;
}

// Reads "<word> <decimal>\n"; nullopt-like -1 on anything else.
int64_t ReadCountLine(std::FILE* f, absl::string_view word, Sha256Stream& h) {
  std::string line;
  for (int i = 0; i < 40; ++i) {
    int c = std::fgetc(f);
    if (c == EOF) return -1;
    line.push_back(static_cast<char>(c));
    if (c == '\n') break;
  }
  h.Update(line);
  if (line.empty() || line.back() != '\n') return -1;
  absl::string_view l(line);
  l.remove_suffix(1);
  if (!absl::ConsumePrefix(&l, word) || !absl::ConsumePrefix(&l, " "))
    return -1;
  int64_t n = 0;
  if (l.empty() || l.size() > 18 || (l.size() > 1 && l[0] == '0') ||
      !std::all_of(l.begin(), l.end(),
                   [](char c) { return c >= '0' && c <= '9'; }) ||
      !absl::SimpleAtoi(l, &n)) {
    return -1;
  }
  return n;
}

}  // namespace

std::string SerializeManifest(const Manifest& m) {
  boost::json::object o;
  o["format"] = m.format;
  o["instance_id"] = m.instance_id;
  o["log_id"] = m.log_id;
  o["created"] = m.created;
  o["source"] = m.source;
  o["backend"] = m.backend;
  o["audit_key"] = Base64Encode(m.audit_key_der);
  o["audit_key_sha256"] = KeyFingerprint(m.audit_key_der);
  o["tree_size"] = m.tree_size;
  o["root_hash"] = HexEncode(m.root_hash);
  o["checkpoint_note"] = m.checkpoint_note;
  o["checkpoint_signature"] = Base64Encode(m.checkpoint_signature);
  boost::json::array parts;
  for (const Part& p : m.parts) {
    boost::json::object po;
    po["name"] = p.name;
    po["size"] = p.size;
    po["sha256"] = HexEncode(p.sha256);
    po["mode"] =
        absl::StrCat("0", absl::Dec(p.mode >> 6 & 7),
                     absl::Dec(p.mode >> 3 & 7), absl::Dec(p.mode & 7));
    po["what"] = p.what;
    parts.push_back(std::move(po));
  }
  o["parts"] = std::move(parts);
  boost::json::array excluded;
  for (const Excluded& e : m.excluded) {
    boost::json::object eo;
    eo["path"] = e.path;
    eo["why"] = e.why;
    excluded.push_back(std::move(eo));
  }
  o["excluded"] = std::move(excluded);
  return boost::json::serialize(o);
}

absl::StatusOr<Manifest> ParseManifest(absl::string_view text) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(
      boost::json::string_view(text.data(), text.size()), ec);
  if (ec || !v.is_object()) {
    return absl::InvalidArgumentError("manifest is not a JSON object");
  }
  Fields f(v.as_object());
  Manifest m;
  ASSIGN_OR_RETURN(m.format, f.Str("format"));
  if (m.format != kFormat) {
    return absl::InvalidArgumentError(
        absl::StrCat("manifest format \"", m.format, "\" is not ", kFormat));
  }
  ASSIGN_OR_RETURN(m.instance_id, f.Str("instance_id"));
  ASSIGN_OR_RETURN(m.log_id, f.Str("log_id"));
  ASSIGN_OR_RETURN(m.created, f.Str("created"));
  ASSIGN_OR_RETURN(m.source, f.Str("source"));
  ASSIGN_OR_RETURN(m.backend, f.Str("backend"));
  ASSIGN_OR_RETURN(m.audit_key_der, f.B64("audit_key"));
  ASSIGN_OR_RETURN(std::string fp, f.Str("audit_key_sha256"));
  if (fp != KeyFingerprint(m.audit_key_der)) {
    return absl::InvalidArgumentError(
        "manifest field \"audit_key_sha256\" does not match \"audit_key\"");
  }
  ASSIGN_OR_RETURN(m.tree_size, f.Int("tree_size"));
  ASSIGN_OR_RETURN(m.root_hash, f.Hex("root_hash", 32));
  ASSIGN_OR_RETURN(m.checkpoint_note, f.Str("checkpoint_note"));
  ASSIGN_OR_RETURN(m.checkpoint_signature, f.B64("checkpoint_signature"));
  ASSIGN_OR_RETURN(const boost::json::array* parts, f.Array("parts"));
  std::set<std::string> names;
  for (const boost::json::value& pv : *parts) {
    if (!pv.is_object()) {
      return absl::InvalidArgumentError("manifest part is not an object");
    }
    Fields pf(pv.as_object());
    Part p;
    ASSIGN_OR_RETURN(p.name, pf.Str("name"));
    if (!SafePartName(p.name) || !names.insert(p.name).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("manifest part name \"", p.name,
                       "\" is not a safe relative path or is repeated"));
    }
    ASSIGN_OR_RETURN(p.size, pf.Int("size"));
    ASSIGN_OR_RETURN(p.sha256, pf.Hex("sha256", 32));
    ASSIGN_OR_RETURN(std::string mode, pf.Str("mode"));
    if (mode.size() != 4 || mode[0] != '0' ||
        !std::all_of(mode.begin(), mode.end(),
                     [](char c) { return c >= '0' && c <= '7'; })) {
      return absl::InvalidArgumentError("manifest part mode is not 0ooo");
    }
    p.mode = std::stoi(mode, nullptr, 8) & 0600;  // never more than 0600
    ASSIGN_OR_RETURN(p.what, pf.Str("what"));
    m.parts.push_back(std::move(p));
  }
  ASSIGN_OR_RETURN(const boost::json::array* excluded, f.Array("excluded"));
  for (const boost::json::value& ev : *excluded) {
    if (!ev.is_object()) {
      return absl::InvalidArgumentError("manifest exclusion is not an object");
    }
    Fields ef(ev.as_object());
    Excluded e;
    ASSIGN_OR_RETURN(e.path, ef.Str("path"));
    ASSIGN_OR_RETURN(e.why, ef.Str("why"));
    m.excluded.push_back(std::move(e));
  }
  return m;
}

absl::StatusOr<std::string> FileSha256Hex(const std::string& path) {
  int64_t size = 0;
  ASSIGN_OR_RETURN(std::string h, HashFile(path, size));
  return HexEncode(h);
}

absl::StatusOr<Manifest> WriteBackupFile(
    const std::string& out, Manifest manifest,
    const std::vector<std::string>& part_paths, const crypto::Signer& signer) {
  const crypto::SignatureScheme& scheme = signer.scheme();
  if (scheme.key != crypto::KeyAlgorithm::kEcP256 ||
      scheme.hash != crypto::HashAlgorithm::kSha256) {
    return absl::FailedPreconditionError(
        "the backup signing key must be ECDSA P-256 with SHA-256");
  }
  if (part_paths.size() != manifest.parts.size()) {
    return absl::InvalidArgumentError("one path per manifest part");
  }
  std::error_code ec;
  if (std::filesystem::exists(out, ec)) {
    return absl::AlreadyExistsError(
        absl::StrCat(out, " exists; refusing to overwrite it"));
  }
  manifest.audit_key_der = signer.public_key_der();
  for (size_t i = 0; i < part_paths.size(); ++i) {
    ASSIGN_OR_RETURN(manifest.parts[i].sha256,
                     HashFile(part_paths[i], manifest.parts[i].size));
  }
  std::string text = SerializeManifest(manifest);

  std::string tmp = absl::StrCat(out, ".partial.", ::getpid());
  int fd = ::open(tmp.c_str(),
                  O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return ErrnoError("cannot create", tmp);
  File f(::fdopen(fd, "wb"));
  if (!f) {
    ::close(fd);
    return ErrnoError("cannot open", tmp);
  }
  auto fail = [&](absl::Status st) {
    f.reset();
    ::unlink(tmp.c_str());
    return st;
  };
  Sha256Stream body;
  std::string head =
      absl::StrCat(kMagic, "manifest ", text.size(), "\n", text, "\n");
  body.Update(head);
  if (auto st = WriteAll(f.get(), head, tmp); !st.ok()) return fail(st);
  std::string buf(kChunk, '\0');
  for (size_t i = 0; i < part_paths.size(); ++i) {
    auto in = OpenRead(part_paths[i]);
    if (!in.ok()) return fail(in.status());
    Sha256Stream h;
    int64_t left = manifest.parts[i].size;
    while (left > 0) {
      size_t want = static_cast<size_t>(std::min<int64_t>(left, kChunk));
      size_t n = std::fread(buf.data(), 1, want, in->get());
      if (n == 0) break;
      absl::string_view piece(buf.data(), n);
      h.Update(piece);
      body.Update(piece);
      if (auto st = WriteAll(f.get(), piece, tmp); !st.ok()) return fail(st);
      left -= n;
    }
    if (left != 0 || std::fgetc(in->get()) != EOF ||
        h.Final() != manifest.parts[i].sha256) {
      return fail(absl::AbortedError(absl::StrCat(
          part_paths[i], " changed while the backup was being written")));
    }
  }
  absl::StatusOr<std::string> sig = signer.SignDigest(body.Final());
  if (!sig.ok()) return fail(sig.status());
  std::string trailer = absl::StrCat("signature ", Base64Encode(*sig), "\n");
  if (auto st = WriteAll(f.get(), trailer, tmp); !st.ok()) return fail(st);
  if (std::fflush(f.get()) != 0 || ::fsync(::fileno(f.get())) != 0) {
    return fail(ErrnoError("cannot sync", tmp));
  }
  f.reset();
  // link() refuses to replace a file that appeared meanwhile (rename would).
  if (::link(tmp.c_str(), out.c_str()) != 0) {
    absl::Status st = errno == EEXIST
                          ? absl::AlreadyExistsError(absl::StrCat(
                                out, " exists; refusing to overwrite it"))
                          : ErrnoError("cannot create", out);
    ::unlink(tmp.c_str());
    return st;
  }
  ::unlink(tmp.c_str());
  std::string dir = std::filesystem::path(out).parent_path().string();
  int dfd = ::open(dir.empty() ? "." : dir.c_str(),
                   O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return manifest;
}

absl::StatusOr<Manifest> ReadBackupFile(const std::string& path,
                                        absl::string_view pinned_key_der,
                                        const std::string& extract_dir) {
  ASSIGN_OR_RETURN(File f, OpenRead(path));
  Sha256Stream body;
  std::string magic = ReadUpTo(f.get(), kMagic.size());
  body.Update(magic);
  if (magic != kMagic) {
    if (magic.substr(0, 6) == kMagic.substr(0, 6) ||
        magic.find("BACKUP") != std::string::npos) {
      return Damaged(path, "its header is not \"INKAN-BACKUP 1\"");
    }
    return absl::InvalidArgumentError(absl::StrCat(
        path, " is not an inkan backup (no \"INKAN-BACKUP 1\" header)"));
  }
  int64_t n = ReadCountLine(f.get(), "manifest", body);
  if (n <= 0 || n > kMaxManifest) {
    return Damaged(path, "its manifest length line is malformed");
  }
  std::string text = ReadUpTo(f.get(), n + 1);
  body.Update(text);
  if (static_cast<int64_t>(text.size()) != n + 1 || text.back() != '\n') {
    return Damaged(path, "its manifest is truncated or has no end");
  }
  text.pop_back();
  absl::StatusOr<Manifest> m = ParseManifest(text);
  if (!m.ok()) return Damaged(path, m.status().message());

  std::string buf(kChunk, '\0');
  std::string bad_part;
  for (const Part& p : m->parts) {
    File out;
    std::string out_path;
    if (!extract_dir.empty()) {
      out_path = absl::StrCat(extract_dir, "/", p.name);
      std::string parent = std::filesystem::path(out_path).parent_path();
      if (parent != extract_dir && ::mkdir(parent.c_str(), 0700) != 0 &&
          errno != EEXIST) {
        return ErrnoError("cannot create", parent);
      }
      int fd =
          ::open(out_path.c_str(),
                 O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, p.mode);
      if (fd < 0) return ErrnoError("cannot create", out_path);
      out.reset(::fdopen(fd, "wb"));
      if (!out) {
        ::close(fd);
        return ErrnoError("cannot open", out_path);
      }
    }
    Sha256Stream h;
    int64_t left = p.size;
    while (left > 0) {
      size_t want = static_cast<size_t>(std::min<int64_t>(left, kChunk));
      size_t got = std::fread(buf.data(), 1, want, f.get());
      if (got == 0) break;
      absl::string_view piece(buf.data(), got);
      h.Update(piece);
      body.Update(piece);
      if (out) RETURN_IF_ERROR(WriteAll(out.get(), piece, out_path));
      left -= got;
    }
    if (left != 0) {
      return Damaged(path, absl::StrCat("it is truncated (in part ", p.name,
                                        ", ", left, " bytes missing)"));
    }
    if (h.Final() != p.sha256 && bad_part.empty()) bad_part = p.name;
    if (out) {
      if (std::fflush(out.get()) != 0 || ::fsync(::fileno(out.get())) != 0) {
        return ErrnoError("cannot sync", out_path);
      }
    }
  }
  std::string trailer = ReadUpTo(f.get(), kMaxTrailer);
  absl::string_view t(trailer);
  if (!absl::ConsumePrefix(&t, "signature ") ||
      !absl::ConsumeSuffix(&t, "\n")) {
    return Damaged(path, "its signature line is missing or malformed");
  }
  absl::StatusOr<std::string> sig = Base64Decode(t);
  if (!sig.ok() || Base64Encode(*sig) != t) {
    return Damaged(path, "its signature is not base64");
  }
  if (!bad_part.empty()) {
    return Damaged(path, absl::StrCat("part ", bad_part,
                                      " does not match its SHA-256 in the "
                                      "manifest"));
  }
  absl::StatusOr<std::unique_ptr<crypto::Verifier>> verifier =
      crypto::NewVerifier(m->audit_key_der, {crypto::KeyAlgorithm::kEcP256,
                                             crypto::HashAlgorithm::kSha256});
  if (!verifier.ok()) {
    return Damaged(path, "its manifest's audit key is not a P-256 key");
  }
  if (!(*verifier)->VerifyDigest(body.Final(), *sig).ok()) {
    return Damaged(path, "its signature does not verify");
  }
  if (!pinned_key_der.empty() && pinned_key_der != m->audit_key_der) {
    return absl::PermissionDeniedError(absl::StrCat(
        "backup ", path, " is signed by audit key SHA-256 ",
        KeyFingerprint(m->audit_key_der), ", not by the expected key ",
        KeyFingerprint(pinned_key_der),
        " (a backup of another instance, or a forgery)"));
  }
  return m;
}

}  // namespace inkan::backup
