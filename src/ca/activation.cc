#include "ca/activation.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/encoding.h"
#include "common/status_macros.h"

namespace inkan::ca {

CaActivation::~CaActivation() {
  absl::MutexLock lock(&mu_);
  DropRound();
}

void CaActivation::DropRound() {
  shares_.clear();  // SecretBytes wipe themselves
  indexes_.clear();
  entered_by_.clear();
  need_ = 0;
}

CaActivation::State CaActivation::StateLocked() {
  State s;
  s.active = ca_.active();
  s.active_until = s.active ? ca_.active_until() : absl::InfinitePast();
  s.have = static_cast<int>(shares_.size());
  s.need = need_;
  s.entered_by = entered_by_;
  s.window = window_;
  return s;
}

absl::Status CaActivation::LogRound(absl::string_view type,
                                    absl::string_view actor,
                                    absl::string_view detail) {
  return ca_.RecordEvent(
      audit::Event{std::string(type),
                   {{"actor", std::string(actor)},
                    {"detail", std::string(detail)},
                    {"have", static_cast<int64_t>(shares_.size())},
                    {"need", int64_t{need_}},
                    {"custodians", absl::StrJoin(entered_by_, ",")}}});
}

absl::StatusOr<CaActivation::State> CaActivation::AddShare(
    const SecretBytes& share_text, absl::Duration window,
    absl::string_view actor) {
  absl::MutexLock lock(&mu_);
  if (ca_.active()) {
    return absl::FailedPreconditionError(
        absl::StrCat("the CA key is already active until ",
                     FormatRfc3339(ca_.active_until()),
                     "; deactivate it first to change the window"));
  }
  if (!shares_.empty() &&
      clock_.Now() - round_started_ > options_.round_timeout) {
    RETURN_IF_ERROR(LogRound("ca.activate.round_expired", actor,
                             "the round of shares timed out"));
    DropRound();
  }
  auto check = ca_.CheckShareText(share_text);
  if (!check.ok()) {
    RETURN_IF_ERROR(ca_.RecordEvent(
        audit::Event{"ca.activate.refused",
                     {{"actor", std::string(actor)},
                      {"reason", std::string(check.status().message())}}}));
    return check.status();
  }
  if (std::find(indexes_.begin(), indexes_.end(), check->index) !=
      indexes_.end()) {
    return absl::AlreadyExistsError(
        absl::StrCat("the share of ", check->custodian, " is already entered"));
  }
  if (shares_.empty()) {
    if (window < absl::Minutes(1) || window > options_.max_window) {
      return absl::InvalidArgumentError(
          absl::StrCat("the activation window must be from 1m to ",
                       absl::FormatDuration(options_.max_window)));
    }
    window_ = window;
    round_started_ = clock_.Now();
  }
  need_ = check->threshold;
  shares_.push_back(share_text);
  indexes_.push_back(check->index);
  entered_by_.push_back(check->custodian);
  if (static_cast<int>(shares_.size()) < need_) {
    RETURN_IF_ERROR(LogRound("ca.activate.share", actor,
                             absl::StrCat("share of ", check->custodian)));
    return StateLocked();
  }
  absl::Status st = ca_.Activate(shares_, actor, clock_.Now() + window_);
  DropRound();
  RETURN_IF_ERROR(st);
  return StateLocked();
}

absl::Status CaActivation::Deactivate(absl::string_view actor) {
  absl::MutexLock lock(&mu_);
  if (!shares_.empty()) {
    RETURN_IF_ERROR(LogRound("ca.activate.round_dropped", actor,
                             "deactivated while collecting shares"));
  }
  DropRound();
  return ca_.Deactivate(actor, "deactivated");
}

CaActivation::State CaActivation::Status() {
  absl::MutexLock lock(&mu_);
  return StateLocked();
}

void CaActivation::Tick() {
  absl::MutexLock lock(&mu_);
  if (!shares_.empty() &&
      clock_.Now() - round_started_ > options_.round_timeout) {
    (void)LogRound("ca.activate.round_expired", "service",
                   "the round of shares timed out");
    DropRound();
  }
  if (ca_.active_until() != absl::InfinitePast() &&
      clock_.Now() >= ca_.active_until()) {
    (void)ca_.Deactivate("service", "the activation window ended");
  }
}

absl::Status CaActivation::WithActive(
    absl::FunctionRef<absl::Status(Authority&)> fn) {
  absl::MutexLock lock(&mu_);
  if (!ca_.active()) {
    if (ca_.active_until() != absl::InfinitePast()) {
      RETURN_IF_ERROR(ca_.Deactivate("service", "the activation window ended"));
      return absl::FailedPreconditionError(
          "the CA key's activation window has ended: the custodians must "
          "activate it again (inkan ca activate)");
    }
    return absl::FailedPreconditionError(
        "the CA key is not active: custodians activate it with `inkan ca "
        "activate --share FILE`");
  }
  return fn(ca_);
}

}  // namespace inkan::ca
