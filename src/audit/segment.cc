#include "audit/segment.h"

#include <algorithm>
#include <boost/json.hpp>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "audit/audit_log.h"
#include "audit/canonical_json.h"
#include "audit/checkpoint.h"
#include "audit/merkle.h"
#include "audit/timestamp.h"
#include "audit/verifier.h"
#include "common/encoding.h"
#include "common/status_macros.h"
#include "crypto/digest.h"
#include "crypto/signer.h"

namespace inkan::audit {
namespace {

constexpr int64_t kBatch = 1024;

boost::json::object CheckpointJson(const storage::CheckpointRow& cp) {
  boost::json::object o;
  o["note"] = cp.note;
  o["signature"] = Base64Encode(cp.signature);
  return o;
}

absl::Status Bad(absl::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat("not an inkan audit segment: ", what));
}

absl::Status Fails(absl::string_view what) {
  return absl::DataLossError(absl::StrCat("segment does NOT verify: ", what));
}

absl::StatusOr<std::string> StringField(const boost::json::object& o,
                                        const char* key) {
  const boost::json::value* v = o.if_contains(key);
  if (v == nullptr || !v->is_string()) {
    return Bad(absl::StrCat("\"", key, "\" missing or not a string"));
  }
  return std::string(v->as_string());
}

absl::StatusOr<int64_t> IntField(const boost::json::object& o,
                                 const char* key) {
  const boost::json::value* v = o.if_contains(key);
  if (v == nullptr || !v->is_int64()) {
    return Bad(absl::StrCat("\"", key, "\" missing or not a number"));
  }
  return v->as_int64();
}

struct SignedNote {
  std::string text;
  std::string signature;
  CheckpointNote note;
};

// Parses {"note","signature"} and checks the signature and log id.
absl::StatusOr<SignedNote> CheckNote(const boost::json::value& v,
                                     const crypto::Verifier& key,
                                     absl::string_view log_id) {
  if (!v.is_object()) return Bad("a checkpoint is not an object");
  SignedNote out;
  ASSIGN_OR_RETURN(out.text, StringField(v.as_object(), "note"));
  ASSIGN_OR_RETURN(std::string sig_b64,
                   StringField(v.as_object(), "signature"));
  absl::StatusOr<std::string> sig = Base64Decode(sig_b64);
  absl::StatusOr<CheckpointNote> note = ParseCheckpointNote(out.text);
  if (!sig.ok() || !note.ok()) {
    return Fails("a checkpoint note or signature is malformed");
  }
  if (!VerifyCheckpointSignature(key, out.text, *sig).ok()) {
    return Fails(absl::StrCat("the checkpoint at size ", note->tree_size,
                              " has a bad signature"));
  }
  if (note->log_id != log_id) {
    return Fails(absl::StrCat("the checkpoint at size ", note->tree_size,
                              " is for log \"", note->log_id, "\""));
  }
  out.signature = *std::move(sig);
  out.note = *std::move(note);
  return out;
}

}  // namespace

absl::StatusOr<std::string> ExportSegment(storage::Transaction& tx,
                                          absl::string_view log_id,
                                          absl::string_view audit_key_der,
                                          int64_t from, int64_t to) {
  if (from < 1 || from > to) {
    return absl::InvalidArgumentError(absl::StrCat(
        "no segment from entry ", from, " to ", to, " (need 1 <= from <= to)"));
  }
  ASSIGN_OR_RETURN(std::vector<storage::CheckpointRow> checkpoints,
                   tx.ReadCheckpoints());
  std::optional<int64_t> last;
  for (const storage::CheckpointRow& cp : checkpoints) {
    if (cp.tree_size >= to) {
      last = cp.tree_size;
      break;
    }
  }
  if (!last.has_value()) {
    return absl::OutOfRangeError(absl::StrCat(
        "the audit log has no signed checkpoint at or after entry ", to,
        " (its latest covers ",
        checkpoints.empty() ? 0 : checkpoints.back().tree_size, ")"));
  }
  CompactRange prefix;
  std::vector<std::string> entries;
  for (int64_t next = 1; next <= *last;) {
    ASSIGN_OR_RETURN(
        std::vector<storage::AuditEntryRow> rows,
        tx.ReadAuditEntries(next, std::min(kBatch, *last - next + 1)));
    if (rows.empty()) {
      return absl::DataLossError(
          absl::StrCat("audit entry ", next, " is missing"));
    }
    for (storage::AuditEntryRow& row : rows) {
      if (row.seq != next) {
        return absl::DataLossError(
            absl::StrCat("audit entry ", next, " is missing"));
      }
      if (row.seq < from) {
        prefix.Append(StoredLeafHash(row));
      } else if (IsPruned(row)) {
        return absl::FailedPreconditionError(absl::StrCat(
            "audit entry ", row.seq,
            " was pruned after its retention period; export from a later "
            "entry"));
      } else {
        entries.push_back(std::move(row.entry));
      }
      ++next;
    }
  }
  boost::json::object o;
  o["format"] = std::string(kSegmentFormat);
  o["log_id"] = std::string(log_id);
  o["audit_key"] = Base64Encode(audit_key_der);
  o["first"] = from;
  o["last"] = *last;
  o["prefix"] = prefix.Serialize();
  boost::json::array ej;
  for (std::string& e : entries) ej.emplace_back(std::move(e));
  o["entries"] = std::move(ej);
  boost::json::array cj;
  for (const storage::CheckpointRow& cp : checkpoints) {
    if (cp.tree_size >= from && cp.tree_size <= *last) {
      cj.push_back(CheckpointJson(cp));
    }
  }
  o["checkpoints"] = std::move(cj);
  const storage::CheckpointRow& latest = checkpoints.back();
  if (latest.tree_size > *last) {
    o["latest"] = CheckpointJson(latest);
    ASSIGN_OR_RETURN(std::vector<std::string> proof,
                     ConsistencyProofFor(tx, *last, latest.tree_size));
    boost::json::array pj;
    for (const std::string& h : proof) pj.emplace_back(HexEncode(h));
    o["consistency"] = std::move(pj);
  }
  return absl::StrCat(boost::json::serialize(o), "\n");
}

absl::StatusOr<SegmentInfo> VerifySegment(absl::string_view text,
                                          absl::string_view pinned_key_der) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(
      boost::json::string_view(text.data(), text.size()), ec);
  if (ec || !v.is_object()) return Bad("it is not a JSON object");
  const boost::json::object& o = v.as_object();
  ASSIGN_OR_RETURN(std::string format, StringField(o, "format"));
  if (format != kSegmentFormat) {
    return Bad(absl::StrCat("format \"", format, "\""));
  }
  SegmentInfo info;
  ASSIGN_OR_RETURN(info.log_id, StringField(o, "log_id"));
  ASSIGN_OR_RETURN(std::string key_b64, StringField(o, "audit_key"));
  absl::StatusOr<std::string> key_der = Base64Decode(key_b64);
  if (!key_der.ok()) return Fails("its audit key is not base64");
  info.audit_key_der = *key_der;
  absl::StatusOr<std::unique_ptr<crypto::Verifier>> key = crypto::NewVerifier(
      *key_der,
      {crypto::KeyAlgorithm::kEcP256, crypto::HashAlgorithm::kSha256});
  if (!key.ok()) return Fails("its audit key is not a P-256 public key");
  if (!pinned_key_der.empty() && pinned_key_der != *key_der) {
    return absl::PermissionDeniedError(absl::StrCat(
        "the segment is signed by audit key SHA-256 ",
        HexEncode(crypto::Sha256(*key_der)), ", not by the expected key ",
        HexEncode(crypto::Sha256(pinned_key_der))));
  }
  ASSIGN_OR_RETURN(info.first, IntField(o, "first"));
  ASSIGN_OR_RETURN(info.last, IntField(o, "last"));
  if (info.first < 1 || info.last < info.first) {
    return Fails(
        absl::StrCat("it claims entries ", info.first, "..", info.last));
  }
  ASSIGN_OR_RETURN(std::string prefix_text, StringField(o, "prefix"));
  absl::StatusOr<CompactRange> range = CompactRange::Parse(prefix_text);
  if (!range.ok() || range->size() != info.first - 1) {
    return Fails("its prefix is malformed or of the wrong size");
  }
  const boost::json::value* entries = o.if_contains("entries");
  const boost::json::value* cps = o.if_contains("checkpoints");
  if (entries == nullptr || !entries->is_array() || cps == nullptr ||
      !cps->is_array()) {
    return Bad("\"entries\" or \"checkpoints\" missing");
  }
  const boost::json::array& ea = entries->as_array();
  const boost::json::array& ca = cps->as_array();
  if (static_cast<int64_t>(ea.size()) != info.last - info.first + 1) {
    return Fails(absl::StrCat("it should hold ", info.last - info.first + 1,
                              " entries (", info.first, "..", info.last,
                              ") but holds ", ea.size(),
                              ": entries were removed or added"));
  }
  size_t next_cp = 0;
  std::optional<SignedNote> pending;
  auto load_next = [&]() -> absl::Status {
    pending.reset();
    if (next_cp < ca.size()) {
      ASSIGN_OR_RETURN(SignedNote n,
                       CheckNote(ca[next_cp], **key, info.log_id));
      pending = std::move(n);
      ++next_cp;
    }
    return absl::OkStatus();
  };
  RETURN_IF_ERROR(load_next());
  absl::Time last_time = absl::InfinitePast();
  std::string last_root;
  for (size_t i = 0; i < ea.size(); ++i) {
    int64_t seq = info.first + static_cast<int64_t>(i);
    if (!ea[i].is_string()) {
      return Fails(absl::StrCat("entry ", seq, " is not a string"));
    }
    absl::string_view entry(ea[i].as_string().data(), ea[i].as_string().size());
    absl::StatusOr<Entry> parsed = ParseEntry(entry);
    if (!parsed.ok()) {
      return Fails(absl::StrCat(
          "entry ", seq, " is not canonical: ", parsed.status().message()));
    }
    if (parsed->seq != seq) {
      return Fails(absl::StrCat("entry ", seq, " says seq ", parsed->seq,
                                ": entries were removed, added or reordered"));
    }
    range->Append(LeafHash(entry));
    if (pending.has_value() && pending->note.tree_size < range->size()) {
      return Fails(absl::StrCat("the checkpoint at size ",
                                pending->note.tree_size,
                                " is out of order or outside the segment"));
    }
    if (pending.has_value() && pending->note.tree_size == range->size()) {
      if (pending->note.root_hash != range->Root()) {
        return Fails(absl::StrCat("entries up to ", seq,
                                  " do not match the signed checkpoint at "
                                  "size ",
                                  seq,
                                  ": an entry was changed, removed or added"));
      }
      if (pending->note.time < last_time) {
        return Fails(absl::StrCat("the checkpoint at size ", seq,
                                  " is older than the one before it"));
      }
      last_time = pending->note.time;
      last_root = pending->note.root_hash;
      ++info.checkpoints;
      RETURN_IF_ERROR(load_next());
    }
  }
  if (pending.has_value() || next_cp != ca.size()) {
    return Fails("a checkpoint lies outside the segment's entries");
  }
  if (range->size() != info.last || last_root.empty()) {
    return Fails(absl::StrCat("no signed checkpoint at its last entry ",
                              info.last, ": the segment is not covered"));
  }
  info.latest_size = info.last;
  if (const boost::json::value* latest = o.if_contains("latest")) {
    ASSIGN_OR_RETURN(SignedNote n, CheckNote(*latest, **key, info.log_id));
    const boost::json::value* proof = o.if_contains("consistency");
    if (proof == nullptr || !proof->is_array()) {
      return Fails("the latest checkpoint comes without a consistency proof");
    }
    std::vector<std::string> hashes;
    for (const boost::json::value& h : proof->as_array()) {
      absl::StatusOr<std::string> raw =
          h.is_string() ? HexDecode(std::string(h.as_string()))
                        : absl::InvalidArgumentError("not a string");
      if (!raw.ok()) return Fails("the consistency proof is malformed");
      hashes.push_back(*std::move(raw));
    }
    if (absl::Status s = VerifyConsistency(info.last, n.note.tree_size,
                                           last_root, n.note.root_hash, hashes);
        !s.ok()) {
      return Fails(
          absl::StrCat("the log's latest checkpoint (size ", n.note.tree_size,
                       ") does not extend the segment: ", s.message()));
    }
    info.latest_size = n.note.tree_size;
  }
  return info;
}

}  // namespace inkan::audit
