// Bash completion: subcommands first, then the flags of the chosen one plus
// the global flags; activation names after the commands that take one.
#include "client/cli/completion.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace actd::cli {
namespace {

// Every long and short flag name of `app`'s own options.
std::vector<std::string> FlagNames(const CLI::App& app) {
  std::vector<std::string> names;
  for (const CLI::Option* option : app.get_options()) {
    for (const std::string& n : option->get_lnames()) names.push_back("--" + n);
    for (const std::string& n : option->get_snames()) names.push_back("-" + n);
  }
  return names;
}

constexpr char kActivations[] =
    "sigmoid tanh relu elu selu leaky_relu prelu gelu swish mish maxout dice "
    "identity";

}  // namespace

std::string BashCompletion(const CLI::App& app) {
  std::vector<std::string> subcommands;
  std::string cases;
  for (const CLI::App* sub : app.get_subcommands({})) {
    subcommands.push_back(sub->get_name());
    absl::StrAppend(&cases, "    ", sub->get_name(), ") flags=\"",
                    absl::StrJoin(FlagNames(*sub), " "), "\" ;;\n");
  }
  return absl::StrCat(
      "# bash completion for actctl; load with: source <(actctl completion "
      "bash)\n"
      "_actctl() {\n"
      "  local cur=\"${COMP_WORDS[COMP_CWORD]}\" "
      "prev=\"${COMP_WORDS[COMP_CWORD-1]}\"\n"
      "  local global=\"",
      absl::StrJoin(FlagNames(app), " "),
      "\"\n"
      "  local commands=\"",
      absl::StrJoin(subcommands, " "),
      "\"\n"
      "  local activations=\"",
      kActivations,
      "\"\n"
      "  local cmd=\"\" w\n"
      "  for w in \"${COMP_WORDS[@]:1:COMP_CWORD-1}\"; do\n"
      "    case \" $commands \" in *\" $w \"*) cmd=$w; break ;; esac\n"
      "  done\n"
      "  case \"$prev\" in\n"
      "    --input|--output|--out|--token-file|--tls-ca|--tls-cert|--tls-key)\n"
      "      COMPREPLY=($(compgen -f -- \"$cur\")); return ;;\n"
      "    --format) COMPREPLY=($(compgen -W \"text json\" -- \"$cur\")); "
      "return ;;\n"
      "    --dtype) COMPREPLY=($(compgen -W \"float32 float64\" -- \"$cur\")); "
      "return ;;\n"
      "    --encoding) COMPREPLY=($(compgen -W \"raw typed\" -- \"$cur\")); "
      "return ;;\n"
      "    --direction) COMPREPLY=($(compgen -W \"forward backward\" -- "
      "\"$cur\")); return ;;\n"
      "  esac\n"
      "  if [[ -z \"$cmd\" ]]; then\n"
      "    COMPREPLY=($(compgen -W \"$commands $global\" -- \"$cur\")); "
      "return\n"
      "  fi\n"
      "  local flags=\"\"\n"
      "  case \"$cmd\" in\n",
      cases,
      "  esac\n"
      "  case \"$cmd\" in\n"
      "    forward|backward|describe|compare|plot|bench)\n"
      "      [[ \"$cur\" != -* ]] && COMPREPLY=($(compgen -W \"$activations "
      "all\" -- \"$cur\")) && return ;;\n"
      "    batch) [[ \"$cur\" != -* ]] && COMPREPLY=($(compgen -f -- "
      "\"$cur\")) && return ;;\n"
      "    completion) COMPREPLY=($(compgen -W \"bash\" -- \"$cur\")); return "
      ";;\n"
      "  esac\n"
      "  COMPREPLY=($(compgen -W \"$flags $global\" -- \"$cur\"))\n"
      "}\n"
      "complete -F _actctl actctl\n");
}

}  // namespace actd::cli
