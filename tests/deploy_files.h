// Readers for the deployment recipes: a Dockerfile's stages and
// instructions, a systemd unit's entries, the flags a command line passes
// and the flags a program's --help lists. YAML goes through yaml-cpp; these
// formats are small enough to read by hand.
//
// They serve tests/deploy_manifests_test.cc, which checks that the
// Dockerfile and everything under deploy/ agree with each other and with the
// real binaries. Each reader is lenient where the format allows more than
// our files use, and returns nothing (rather than guessing) where it cannot
// tell, so that the test reports a problem instead of passing silently.

#ifndef LRMEM_TESTS_DEPLOY_FILES_H_
#define LRMEM_TESTS_DEPLOY_FILES_H_

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace lrmem::deploy {

// The whole file, or nullopt when it cannot be read.
std::optional<std::string> ReadFile(const std::string& path);

// --- Dockerfile ---

// One instruction, continuation lines joined into one line.
struct DockerInstruction {
  std::string keyword;    // upper case: "FROM", "RUN", "ENTRYPOINT", ...
  std::string arguments;  // everything after the keyword, trimmed
};

// The instructions from one FROM up to the next.
struct DockerStage {
  std::string base_image;  // the image FROM names
  std::string name;        // the name after AS, empty without one
  std::vector<DockerInstruction> instructions;

  // The arguments of every instruction with `keyword`, in file order.
  std::vector<std::string> All(absl::string_view keyword) const;
};

// Splits a Dockerfile into its stages. Comment lines are dropped; a line
// ending in a backslash continues on the next line.
std::vector<DockerStage> ParseDockerfile(absl::string_view text);

// The strings of an exec-form argument such as ["lrmemctl", "health"];
// nullopt when `text` is not a JSON array of strings (shell form).
std::optional<std::vector<std::string>> ParseJsonStringArray(
    absl::string_view text);

// The packages an `apt-get install` in a shell command names (its words
// after "install" that are not options, up to the end of that command).
std::vector<std::string> AptInstallPackages(absl::string_view command);

// --- systemd unit ---

struct UnitEntry {
  std::string section;  // "Service" for [Service]
  std::string key;
  std::string value;  // continuation lines joined with a space
};

std::vector<UnitEntry> ParseUnitFile(absl::string_view text);

// The value of the last `key` in `section`, or nullopt.
std::optional<std::string> UnitValue(const std::vector<UnitEntry>& unit,
                                     absl::string_view section,
                                     absl::string_view key);

// --- command lines and flags ---

// Splits a command line into words on whitespace; single and double quotes
// group words. Nothing is expanded.
std::vector<std::string> SplitCommandLine(absl::string_view text);

// A flag as a command line passes it: `--name=value`, `--name` or `-name`.
struct CommandFlag {
  std::string name;
  std::optional<std::string> value;  // nullopt for `--name` alone
};

// The words of `words` that start with a dash, as flags. Other words (the
// program, subcommands, `$VARIABLES`) are skipped.
std::vector<CommandFlag> FlagsOf(const std::vector<std::string>& words);

// The value the last occurrence of `name` sets (later flags win, as in
// gflags), or nullopt when `name` is absent or has no value.
std::optional<std::string> LastValue(const std::vector<CommandFlag>& flags,
                                     absl::string_view name);

// The flags a --help text lists: the lines whose first word is `-name` or
// `--name` (gflags prints "    -listen (host:port to serve on) ...").
std::set<std::string> FlagsListedInHelp(absl::string_view help);

// The default that a gflags --help text shows for `flag` ("default: VALUE",
// quotes removed), or nullopt when it shows none.
std::optional<std::string> DefaultInHelp(absl::string_view help,
                                         absl::string_view flag);

// --- values ---

// The port of "host:port" or "[v6 address]:port"; nullopt without one.
std::optional<int> PortOf(absl::string_view address);

// A duration in milliseconds: "500ms", "30s", "1m30s", "1min 30s", "2h".
// A bare number counts in `bare_unit_ms` (systemd's seconds: 1000).
std::optional<int64_t> DurationMs(absl::string_view text, int64_t bare_unit_ms);

}  // namespace lrmem::deploy

#endif  // LRMEM_TESTS_DEPLOY_FILES_H_
