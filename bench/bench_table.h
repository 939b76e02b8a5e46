// Result tables of lrmem-bench: printed as Markdown (so that they paste
// into docs/benchmarks.md as they are) and collected into one JSON
// document for --json.
//
// A cell has its printed text and its JSON value: a number, a string, or
// for a Summary an object with the median and the spread.

#ifndef LRMEM_BENCH_BENCH_TABLE_H_
#define LRMEM_BENCH_BENCH_TABLE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "bench/bench_stats.h"
#include "nlohmann/json.hpp"

namespace lrmem::bench {

struct Cell {
  std::string text;
  nlohmann::json value;
};

Cell TextCell(const std::string& text);
// A count, e.g. a number of parameters; powers of ten print as "1e6".
Cell SizeCell(int64_t size);
// Printed with `digits` significant digits.
Cell NumberCell(double value, int digits = 3);
// "median [p10, p90]"; the JSON keeps every field of the summary.
Cell SpreadCell(const Summary& summary, int digits = 3);

class Table {
 public:
  // `name` keys the table in the JSON output; `title` heads it in print.
  Table(std::string name, std::string title, std::vector<std::string> columns);

  // REQUIRES: cells.size() == number of columns.
  void AddRow(std::vector<Cell> cells);
  // A line printed under the table, e.g. what a column means.
  void AddNote(std::string note) { notes_.push_back(std::move(note)); }

  const std::string& name() const { return name_; }
  std::string ToMarkdown() const;
  // An array of row objects keyed by column name, with the notes.
  nlohmann::json ToJson() const;

 private:
  std::string name_;
  std::string title_;
  std::vector<std::string> columns_;
  std::vector<std::vector<Cell>> rows_;
  std::vector<std::string> notes_;
};

// All tables of one run, plus what describes the run (flags, machine).
class Report {
 public:
  void Add(const Table& table);
  void SetContext(const std::string& key, nlohmann::json value);
  // Writes the JSON document; INTERNAL naming the file on failure.
  absl::Status WriteJson(const std::string& path) const;

 private:
  nlohmann::json document_ = nlohmann::json::object();
};

}  // namespace lrmem::bench

#endif  // LRMEM_BENCH_BENCH_TABLE_H_
