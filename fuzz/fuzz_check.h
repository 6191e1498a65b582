// What the fuzzers share: a check that stops the run with a message when a
// property of a parser does not hold (libFuzzer then keeps the input).
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace kubeai::fuzz {

// Not assert(): it must hold in every build type, RelWithDebInfo included.
[[noreturn]] inline void fail(const char* file, int line, const char* condition, std::string_view detail) {
  std::fprintf(stderr, "%s:%d: fuzz check failed: %s\n  %.*s\n", file, line, condition,
               static_cast<int>(detail.size()), detail.data());
  std::abort();
}

}  // namespace kubeai::fuzz

// KUBEAI_FUZZ_CHECK(condition, detail): `detail` (a string) says what was seen.
#define KUBEAI_FUZZ_CHECK(condition, detail)                              \
  do {                                                                    \
    if (!(condition)) {                                                   \
      ::kubeai::fuzz::fail(__FILE__, __LINE__, #condition, (detail));     \
    }                                                                     \
  } while (false)
