#include "tests/deploy_files.h"

#include <cctype>
#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace lrmem::deploy {
namespace {

// Joins lines that end in a backslash with the next one. Comment lines
// inside a continued instruction are dropped, as Docker does.
std::vector<std::string> LogicalLines(absl::string_view text) {
  std::vector<std::string> lines;
  std::string pending;
  bool continuing = false;
  for (absl::string_view raw : absl::StrSplit(text, '\n')) {
    absl::string_view line = absl::StripAsciiWhitespace(raw);
    if (absl::StartsWith(line, "#")) continue;
    if (line.empty() && !continuing) continue;
    if (absl::EndsWith(line, "\\")) {
      line.remove_suffix(1);
      pending.append(line.data(), line.size()).append(" ");
      continuing = true;
      continue;
    }
    pending.append(line.data(), line.size());
    lines.push_back(std::string(absl::StripAsciiWhitespace(pending)));
    pending.clear();
    continuing = false;
  }
  if (!pending.empty()) {
    lines.push_back(std::string(absl::StripAsciiWhitespace(pending)));
  }
  return lines;
}

std::string FirstWord(absl::string_view text, absl::string_view* rest) {
  text = absl::StripLeadingAsciiWhitespace(text);
  size_t end = 0;
  while (end < text.size() && !absl::ascii_isspace(text[end])) ++end;
  *rest = absl::StripAsciiWhitespace(text.substr(end));
  return std::string(text.substr(0, end));
}

}  // namespace

std::optional<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream contents;
  contents << in.rdbuf();
  return contents.str();
}

std::vector<std::string> DockerStage::All(absl::string_view keyword) const {
  std::vector<std::string> found;
  for (const DockerInstruction& instruction : instructions) {
    if (instruction.keyword == keyword) found.push_back(instruction.arguments);
  }
  return found;
}

std::vector<DockerStage> ParseDockerfile(absl::string_view text) {
  std::vector<DockerStage> stages;
  for (const std::string& line : LogicalLines(text)) {
    absl::string_view arguments;
    DockerInstruction instruction;
    instruction.keyword = absl::AsciiStrToUpper(FirstWord(line, &arguments));
    instruction.arguments = std::string(arguments);
    if (instruction.keyword == "FROM") {
      // FROM [--platform=...] image [AS name]
      std::vector<std::string> words = SplitCommandLine(arguments);
      DockerStage stage;
      for (size_t i = 0; i < words.size(); ++i) {
        if (absl::StartsWith(words[i], "--")) continue;
        if (absl::AsciiStrToUpper(words[i]) == "AS" && i + 1 < words.size()) {
          stage.name = words[++i];
        } else if (stage.base_image.empty()) {
          stage.base_image = words[i];
        }
      }
      stages.push_back(std::move(stage));
    }
    if (stages.empty()) continue;  // ARG before the first FROM
    stages.back().instructions.push_back(std::move(instruction));
  }
  return stages;
}

std::optional<std::vector<std::string>> ParseJsonStringArray(
    absl::string_view text) {
  text = absl::StripAsciiWhitespace(text);
  if (!absl::ConsumePrefix(&text, "[") || !absl::ConsumeSuffix(&text, "]")) {
    return std::nullopt;
  }
  std::vector<std::string> strings;
  size_t i = 0;
  auto skip_space = [&] {
    while (i < text.size() && absl::ascii_isspace(text[i])) ++i;
  };
  skip_space();
  while (i < text.size()) {
    if (text[i] != '"') return std::nullopt;
    std::string value;
    for (++i; i < text.size() && text[i] != '"'; ++i) {
      if (text[i] == '\\' && i + 1 < text.size()) ++i;
      value.push_back(text[i]);
    }
    if (i == text.size()) return std::nullopt;  // unterminated string
    strings.push_back(std::move(value));
    ++i;
    skip_space();
    if (i < text.size()) {
      if (text[i] != ',') return std::nullopt;
      ++i;
      skip_space();
    }
  }
  return strings;
}

std::vector<std::string> AptInstallPackages(absl::string_view command) {
  std::vector<std::string> packages;
  std::vector<std::string> words = SplitCommandLine(command);
  bool in_install = false;
  for (size_t i = 0; i < words.size(); ++i) {
    const std::string& word = words[i];
    if (word == "&&" || word == ";" || word == "||" || word == "|") {
      in_install = false;
    } else if (word == "install" && i > 0 &&
               (words[i - 1] == "apt-get" || words[i - 1] == "apt" ||
                absl::StartsWith(words[i - 1], "-"))) {
      in_install = true;
    } else if (in_install && !absl::StartsWith(word, "-")) {
      packages.push_back(word);
    }
  }
  return packages;
}

std::vector<UnitEntry> ParseUnitFile(absl::string_view text) {
  std::vector<UnitEntry> entries;
  std::string section;
  for (const std::string& line : LogicalLines(text)) {
    if (absl::StartsWith(line, ";")) continue;
    if (absl::StartsWith(line, "[") && absl::EndsWith(line, "]")) {
      section = line.substr(1, line.size() - 2);
      continue;
    }
    size_t equals = line.find('=');
    if (equals == std::string::npos) continue;
    UnitEntry entry;
    entry.section = section;
    entry.key = std::string(
        absl::StripAsciiWhitespace(absl::string_view(line).substr(0, equals)));
    entry.value = std::string(
        absl::StripAsciiWhitespace(absl::string_view(line).substr(equals + 1)));
    entries.push_back(std::move(entry));
  }
  return entries;
}

std::optional<std::string> UnitValue(const std::vector<UnitEntry>& unit,
                                     absl::string_view section,
                                     absl::string_view key) {
  std::optional<std::string> value;
  for (const UnitEntry& entry : unit) {
    if (entry.section == section && entry.key == key) value = entry.value;
  }
  return value;
}

std::vector<std::string> SplitCommandLine(absl::string_view text) {
  std::vector<std::string> words;
  std::string word;
  bool in_word = false;
  char quote = 0;
  for (char c : text) {
    if (quote != 0) {
      if (c == quote) {
        quote = 0;
      } else {
        word.push_back(c);
      }
    } else if (c == '"' || c == '\'') {
      quote = c;
      in_word = true;
    } else if (absl::ascii_isspace(c)) {
      if (in_word) words.push_back(std::move(word));
      word.clear();
      in_word = false;
    } else {
      word.push_back(c);
      in_word = true;
    }
  }
  if (in_word) words.push_back(std::move(word));
  return words;
}

std::vector<CommandFlag> FlagsOf(const std::vector<std::string>& words) {
  std::vector<CommandFlag> flags;
  for (const std::string& word : words) {
    absl::string_view text = word;
    if (!absl::ConsumePrefix(&text, "-")) continue;
    absl::ConsumePrefix(&text, "-");
    if (text.empty()) continue;  // "--" ends the flags in some parsers
    CommandFlag flag;
    size_t equals = text.find('=');
    flag.name = std::string(text.substr(0, equals));
    if (equals != absl::string_view::npos) {
      flag.value = std::string(text.substr(equals + 1));
    }
    flags.push_back(std::move(flag));
  }
  return flags;
}

std::optional<std::string> LastValue(const std::vector<CommandFlag>& flags,
                                     absl::string_view name) {
  std::optional<std::string> value;
  for (const CommandFlag& flag : flags) {
    if (flag.name == name) value = flag.value;
  }
  return value;
}

std::set<std::string> FlagsListedInHelp(absl::string_view help) {
  std::set<std::string> flags;
  for (absl::string_view line : absl::StrSplit(help, '\n')) {
    line = absl::StripLeadingAsciiWhitespace(line);
    if (!absl::ConsumePrefix(&line, "-")) continue;
    absl::ConsumePrefix(&line, "-");
    size_t end = 0;
    while (end < line.size() && (absl::ascii_isalnum(line[end]) ||
                                 line[end] == '_' || line[end] == '-')) {
      ++end;
    }
    // A name starts with a letter; "-1 means..." in a wrapped description
    // is not a flag.
    if (end == 0 || !absl::ascii_isalpha(line[0])) continue;
    flags.insert(std::string(line.substr(0, end)));
  }
  return flags;
}

std::optional<std::string> DefaultInHelp(absl::string_view help,
                                         absl::string_view flag) {
  // gflags: "    -name (description, maybe wrapped) type: T default: V"
  const std::string start = "\n    -" + std::string(flag) + " ";
  size_t at = help.find(start);
  if (at == absl::string_view::npos) return std::nullopt;
  size_t next_flag = help.find("\n    -", at + start.size());
  absl::string_view entry = help.substr(at, next_flag - at);
  size_t label = entry.rfind("default: ");
  if (label == absl::string_view::npos) return std::nullopt;
  absl::string_view value = entry.substr(label + 9);
  value = value.substr(0, value.find_first_of(" \n"));
  absl::ConsumePrefix(&value, "\"");
  absl::ConsumeSuffix(&value, "\"");
  return std::string(value);
}

std::optional<int> PortOf(absl::string_view address) {
  size_t colon = address.rfind(':');
  if (colon == absl::string_view::npos) return std::nullopt;
  int port = 0;
  if (!absl::SimpleAtoi(address.substr(colon + 1), &port)) return std::nullopt;
  if (port < 0 || port > 65535) return std::nullopt;
  return port;
}

std::optional<int64_t> DurationMs(absl::string_view text,
                                  int64_t bare_unit_ms) {
  text = absl::StripAsciiWhitespace(text);
  if (text.empty()) return std::nullopt;
  int64_t total = 0;
  size_t i = 0;
  while (i < text.size()) {
    size_t digits_end = i;
    while (digits_end < text.size() && absl::ascii_isdigit(text[digits_end])) {
      ++digits_end;
    }
    int64_t number = 0;
    if (!absl::SimpleAtoi(text.substr(i, digits_end - i), &number)) {
      return std::nullopt;
    }
    size_t unit_end = digits_end;
    while (unit_end < text.size() && absl::ascii_isalpha(text[unit_end])) {
      ++unit_end;
    }
    absl::string_view unit = text.substr(digits_end, unit_end - digits_end);
    int64_t unit_ms = 0;
    if (unit.empty()) {
      unit_ms = bare_unit_ms;
    } else if (unit == "ms") {
      unit_ms = 1;
    } else if (unit == "s" || unit == "sec") {
      unit_ms = 1000;
    } else if (unit == "m" || unit == "min") {
      unit_ms = 60 * 1000;
    } else if (unit == "h") {
      unit_ms = 60 * 60 * 1000;
    } else {
      return std::nullopt;
    }
    total += number * unit_ms;
    i = unit_end;
    while (i < text.size() && text[i] == ' ') ++i;
  }
  return total;
}

}  // namespace lrmem::deploy
