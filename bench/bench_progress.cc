#include "bench/bench_progress.h"

#include <algorithm>
#include <cstdio>

#include "absl/strings/str_cat.h"

namespace lrmem::bench {

void Progress::Update(const std::string& scenario, const std::string& text) {
  const std::string line = absl::StrCat("[", scenario, "] ", text);
  // Blank out what is left of a longer previous line.
  const std::string blank(shown_ - std::min(shown_, line.size()), ' ');
  std::fprintf(stderr, "\r%s%s", line.c_str(), blank.c_str());
  std::fflush(stderr);
  shown_ = line.size();
}

void Progress::Done() {
  if (shown_ == 0) return;
  std::fprintf(stderr, "\n");
  shown_ = 0;
}

}  // namespace lrmem::bench
