// Command groups that register their own CLI11 subcommands (one file each,
// so that main.cc stays small and two groups can change independently).
// Their option variables live in function-local statics: CLI11 callbacks
// run during app.parse(), after these functions return.
#ifndef INKAN_CLI_SUBCOMMANDS_H_
#define INKAN_CLI_SUBCOMMANDS_H_

#include <functional>
#include <string>

#include "absl/status/status.h"

namespace CLI {
class App;
}  // namespace CLI

namespace inkan::cli {

// `data_opt` adds the --data option to a subcommand (bound to `data`).
using DataOption = std::function<void(CLI::App*)>;

// `inkan backup …`, `inkan audit export` (backup_main.cc).
void AddBackupCommands(CLI::App& app, std::string& data,
                       const DataOption& data_opt, absl::Status& result);
// `inkan enroll …` (enroll_main.cc).
void AddEnrollCommands(CLI::App& app, std::string& data,
                       const DataOption& data_opt, absl::Status& result);

}  // namespace inkan::cli

#endif  // INKAN_CLI_SUBCOMMANDS_H_
