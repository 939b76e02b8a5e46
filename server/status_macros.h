// Early return on error, so that the happy path reads straight down.

#ifndef LRMEM_SERVER_STATUS_MACROS_H_
#define LRMEM_SERVER_STATUS_MACROS_H_

#include "absl/status/status.h"

// Evaluates `expr` (an absl::Status) once and returns it when not OK.
#define LRMEM_RETURN_IF_ERROR(expr)                \
  do {                                             \
    const ::absl::Status lrmem_status_ = (expr);   \
    if (!lrmem_status_.ok()) return lrmem_status_; \
  } while (false)

#endif  // LRMEM_SERVER_STATUS_MACROS_H_
