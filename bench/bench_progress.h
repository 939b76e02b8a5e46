// One progress line on stderr, rewritten in place while a scenario runs, so
// that a long run shows where it is without mixing into the tables on
// stdout.

#ifndef LRMEM_BENCH_BENCH_PROGRESS_H_
#define LRMEM_BENCH_BENCH_PROGRESS_H_

#include <string>

namespace lrmem::bench {

class Progress {
 public:
  // Replaces the current line with "[scenario] text".
  void Update(const std::string& scenario, const std::string& text);
  // Ends the line, if one is shown.
  void Done();

 private:
  size_t shown_ = 0;
};

}  // namespace lrmem::bench

#endif  // LRMEM_BENCH_BENCH_PROGRESS_H_
