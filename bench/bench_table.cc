#include "bench/bench_table.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <fstream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace lrmem::bench {
namespace {

// `digits` significant digits without an exponent, e.g. 1234 -> "1234",
// 12.34 -> "12.3", 0.01234 -> "0.0123"; an exponent only below 1e-3.
std::string Format(double value, int digits) {
  const double magnitude = std::fabs(value);
  if (magnitude == 0.0) return "0";
  if (magnitude < 1e-3) return absl::StrFormat("%.*g", digits, value);
  const int integer_digits =
      static_cast<int>(std::floor(std::log10(magnitude))) + 1;
  const int decimals = std::max(0, digits - integer_digits);
  return absl::StrFormat("%.*f", decimals, value);
}

nlohmann::json SummaryJson(const Summary& s) {
  return {{"median", s.median}, {"p10", s.p10}, {"p90", s.p90},
          {"p99", s.p99},       {"min", s.min}, {"max", s.max},
          {"count", s.count}};
}

std::string Padded(const std::string& text, size_t width) {
  return text + std::string(width - std::min(width, text.size()), ' ');
}

}  // namespace

Cell TextCell(const std::string& text) { return {text, text}; }

Cell SizeCell(int64_t size) {
  // Powers of ten as "1e6", which read faster than 1000000 in a column.
  int exponent = 0;
  int64_t rest = size;
  while (rest >= 10 && rest % 10 == 0) {
    rest /= 10;
    ++exponent;
  }
  const std::string text = rest == 1 && exponent >= 3
                               ? absl::StrCat("1e", exponent)
                               : absl::StrCat(size);
  return {text, size};
}

Cell NumberCell(double value, int digits) {
  return {Format(value, digits), value};
}

Cell SpreadCell(const Summary& summary, int digits) {
  return {absl::StrCat(Format(summary.median, digits), " [",
                       Format(summary.p10, digits), ", ",
                       Format(summary.p90, digits), "]"),
          SummaryJson(summary)};
}

Table::Table(std::string name, std::string title,
             std::vector<std::string> columns)
    : name_(std::move(name)),
      title_(std::move(title)),
      columns_(std::move(columns)) {}

void Table::AddRow(std::vector<Cell> cells) {
  assert(cells.size() == columns_.size());
  rows_.push_back(std::move(cells));
}

std::string Table::ToMarkdown() const {
  // Column widths, so that the text reads as a table too.
  std::vector<size_t> widths;
  for (const std::string& column : columns_) widths.push_back(column.size());
  for (const auto& row : rows_) {
    for (size_t i = 0; i < row.size(); ++i) {
      widths[i] = std::max(widths[i], row[i].text.size());
    }
  }
  auto line = [&](const std::vector<std::string>& texts) {
    std::vector<std::string> padded;
    for (size_t i = 0; i < texts.size(); ++i) {
      padded.push_back(Padded(texts[i], widths[i]));
    }
    return absl::StrCat("| ", absl::StrJoin(padded, " | "), " |\n");
  };

  std::string out = absl::StrCat("### ", title_, "\n\n", line(columns_));
  std::vector<std::string> rule;
  for (size_t width : widths) rule.push_back(std::string(width, '-'));
  out += line(rule);
  for (const auto& row : rows_) {
    std::vector<std::string> texts;
    for (const Cell& cell : row) texts.push_back(cell.text);
    out += line(texts);
  }
  for (const std::string& note : notes_) absl::StrAppend(&out, "\n", note);
  if (!notes_.empty()) out += "\n";
  return out;
}

nlohmann::json Table::ToJson() const {
  nlohmann::json rows = nlohmann::json::array();
  for (const auto& row : rows_) {
    nlohmann::json object = nlohmann::json::object();
    for (size_t i = 0; i < row.size(); ++i) object[columns_[i]] = row[i].value;
    rows.push_back(std::move(object));
  }
  return {{"title", title_}, {"rows", rows}, {"notes", notes_}};
}

void Report::Add(const Table& table) {
  document_["tables"][table.name()] = table.ToJson();
}

void Report::SetContext(const std::string& key, nlohmann::json value) {
  document_[key] = std::move(value);
}

absl::Status Report::WriteJson(const std::string& path) const {
  std::ofstream out(path);
  out << document_.dump(2) << "\n";
  out.close();
  if (!out) return absl::InternalError(absl::StrCat("cannot write ", path));
  return absl::OkStatus();
}

}  // namespace lrmem::bench
