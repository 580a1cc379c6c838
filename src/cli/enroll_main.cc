// Argument parsing for the `inkan enroll` commands; the work is in
// enroll_command.cc.
#include <CLI/CLI.hpp>

#include "cli/subcommands.h"

namespace inkan::cli {

void AddEnrollCommands(CLI::App& app, std::string& data,
                       const DataOption& data_opt, absl::Status& result) {
  (void)app;
  (void)data;
  (void)data_opt;
  (void)result;
}

}  // namespace inkan::cli
