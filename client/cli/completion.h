// Shell completion for actctl, generated from the CLI11 definition itself so
// that it always lists the current subcommands and their flags.
#ifndef ACTD_CLIENT_CLI_COMPLETION_H_
#define ACTD_CLIENT_CLI_COMPLETION_H_

#include <string>

#include "CLI/CLI.hpp"

namespace actd::cli {

// A bash script defining and registering `_actctl` for `complete`.
std::string BashCompletion(const CLI::App& app);

}  // namespace actd::cli

#endif  // ACTD_CLIENT_CLI_COMPLETION_H_
