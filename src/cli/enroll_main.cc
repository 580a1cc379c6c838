// Argument parsing for the `inkan enroll` commands; the work is in
// enroll_command.cc.
#include <CLI/CLI.hpp>

#include "cli/enroll_command.h"
#include "cli/subcommands.h"

namespace inkan::cli {

void AddEnrollCommands(CLI::App& app, std::string& data,
                       const DataOption& data_opt, absl::Status& result) {
  static std::string user, valid_for = "72h", id, base_url;
  static int scal = 2;
  static OperatorSignature sig;
  static KeygenArgs keygen;
  auto* enroll =
      app.add_subcommand("enroll", "enrollment by one-time URL (R9-R11)")
          ->require_subcommand(1);

  auto* issue = enroll->add_subcommand(
      "issue",
      "propose a one-time enrollment code for a new user (a second operator "
      "must approve)");
  data_opt(issue);
  issue->add_option("--user", user, "the new user's name")->required();
  issue->add_option("--valid-for", valid_for,
                    "how long the code works (default 72h; 10m to 720h)");
  issue->add_option("--scal", scal,
                    "2 (default): signatures only through the consent page; "
                    "1: also in explicit mode");
  issue->add_option("--operator", sig.operator_name, "the proposing operator");
  issue->add_option("--key", sig.key_file,
                    "approve with this PEM private key (the operator's own)");
  issue->add_option(
      "--signature", sig.signature_file,
      "or: a signature made elsewhere over `inkan ceremony show`");
  issue->callback(
      [&] { result = EnrollIssue(data, user, valid_for, scal, sig); });

  auto* release = enroll->add_subcommand(
      "release",
      "run an approved code request and print the one-time URL, once");
  data_opt(release);
  release->add_option("--id", id, "the request id")->required();
  release
      ->add_option("--base-url", base_url,
                   "the service as users reach it, https://host[:port]")
      ->required();
  static std::string releaser;
  release->add_option(
      "--operator", releaser,
      "the operator who takes the code for delivery (recorded)");
  release->callback(
      [&] { result = EnrollRelease(data, id, base_url, releaser); });

  auto* kg = enroll->add_subcommand(
      "keygen",
      "enroll from this computer: make the key here and send it wrapped for "
      "the provider's HSM (path B)");
  kg->add_option("--url", keygen.url,
                 "the service's address from your letter, https://host[:port] "
                 "(the one-time code is asked for, so that it stays off the "
                 "command line)")
      ->required();
  kg->add_option("--cacert", keygen.cacert,
                 "the provider's CA certificate (PEM), from your letter")
      ->required();
  kg->add_option("--alg", keygen.alg,
                 "ec-p256 (default), ec-p384, rsa-2048, rsa-3072");
  kg->add_flag("--yes", keygen.yes, "confirm receipt without asking");
  kg->add_option("--key", keygen.key_file,
                 "send this key (PEM) instead of making one; the file is "
                 "overwritten and removed once the key is in the HSM");
  kg->add_option("--trace", keygen.trace_file,
                 "append each request sent (secrets redacted) to this file");
  kg->callback([&] { result = EnrollKeygen(keygen); });
}

}  // namespace inkan::cli
