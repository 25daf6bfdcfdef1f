// Shell completion (bash, zsh, fish) for actctl, generated from the CLI11
// definition itself so that it always lists the current subcommands and their
// flags.
#ifndef ACTD_CLIENT_CLI_COMPLETION_H_
#define ACTD_CLIENT_CLI_COMPLETION_H_

#include <string>

#include "CLI/CLI.hpp"

namespace actd::cli {

// A bash script defining and registering `_actctl` for `complete`.
std::string BashCompletion(const CLI::App& app);

// The completion script for `shell`: "bash"; "zsh" (the bash script through
// zsh's bashcompinit); "fish" (`complete -c actctl` lines). Activation names
// are asked from the server (`actctl list`) when completing.
std::string CompletionScript(const CLI::App& app, const std::string& shell);

}  // namespace actd::cli

#endif  // ACTD_CLIENT_CLI_COMPLETION_H_
