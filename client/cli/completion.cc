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

// Activation names, from the server the environment points at.
constexpr char kActivationsCommand[] =
    "actctl list 2>/dev/null | awk 'NR > 1 { print $1 }'";

std::string Quoted(const std::string& text) {
  std::string out = "'";
  for (char c : text) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out.push_back(c);
    }
  }
  return out + "'";
}

// One `complete` line per flag of `app` (long and short names), only after
// `condition`.
std::string FishFlags(const CLI::App& app, const std::string& condition) {
  std::string out;
  for (const CLI::Option* option : app.get_options()) {
    if (option->get_lnames().empty() && option->get_snames().empty()) continue;
    std::string line = "complete -c actctl";
    if (!condition.empty()) absl::StrAppend(&line, " -n ", Quoted(condition));
    for (const std::string& n : option->get_lnames())
      absl::StrAppend(&line, " -l ", n);
    for (const std::string& n : option->get_snames())
      absl::StrAppend(&line, " -s ", n);
    if (option->get_items_expected_min() > 0) absl::StrAppend(&line, " -r");
    absl::StrAppend(&line, " -d ", Quoted(option->get_description()), "\n");
    out += line;
  }
  return out;
}

std::string FishCompletion(const CLI::App& app) {
  std::string out =
      "# fish completion for actctl; load with: actctl completion fish | "
      "source\ncomplete -c actctl -f\n";
  out += FishFlags(app, "");
  for (const CLI::App* sub : app.get_subcommands({})) {
    absl::StrAppend(&out, "complete -c actctl -n __fish_use_subcommand -a ",
                    sub->get_name(), " -d ", Quoted(sub->get_description()),
                    "\n");
    const std::string seen = "__fish_seen_subcommand_from " + sub->get_name();
    out += FishFlags(*sub, seen);
  }
  absl::StrAppend(
      &out,
      "complete -c actctl -n '__fish_seen_subcommand_from forward backward "
      "describe compare plot bench' -a ",
      Quoted(absl::StrCat("(", kActivationsCommand, ")")), "\n",
      "complete -c actctl -n '__fish_seen_subcommand_from completion' -a "
      "'bash zsh fish'\n",
      "complete -c actctl -l input -l output -l out -l report -l token-file "
      "-l tls-ca -l tls-cert -l tls-key -F\n");
  return out;
}

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
      "  local activations=\"$(",
      kActivationsCommand,
      ")\"\n"
      "  local cmd=\"\" w\n"
      "  for w in \"${COMP_WORDS[@]:1:COMP_CWORD-1}\"; do\n"
      "    case \" $commands \" in *\" $w \"*) cmd=$w; break ;; esac\n"
      "  done\n"
      "  case \"$prev\" in\n"
      "    --input|--output|--out|--report|--token-file|--tls-ca|--tls-cert|"
      "--tls-key)\n"
      "      COMPREPLY=($(compgen -f -- \"$cur\")); return ;;\n"
      "    -o|--format) COMPREPLY=($(compgen -W \"text json yaml\" -- "
      "\"$cur\")); "
      "return ;;\n"
      "    --dtype) COMPREPLY=($(compgen -W \"float32 float64 bfloat16 "
      "float16\" -- \"$cur\")); return ;;\n"
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
      "    completion) COMPREPLY=($(compgen -W \"bash zsh fish\" -- "
      "\"$cur\")); "
      "return "
      ";;\n"
      "  esac\n"
      "  COMPREPLY=($(compgen -W \"$flags $global\" -- \"$cur\"))\n"
      "}\n"
      "complete -F _actctl actctl\n");
}

std::string CompletionScript(const CLI::App& app, const std::string& shell) {
  if (shell == "fish") return FishCompletion(app);
  if (shell == "zsh") {
    return absl::StrCat(
        "# zsh completion for actctl; load with: source <(actctl completion "
        "zsh)\nautoload -U +X compinit && compinit\n"
        "autoload -U +X bashcompinit && bashcompinit\n",
        BashCompletion(app));
  }
  return BashCompletion(app);
}

}  // namespace actd::cli
