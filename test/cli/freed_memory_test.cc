#include "cli/freed_memory.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <barrier>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

namespace {

// The arenas glibc has made so far: malloc_info lists each as a <heap nr=...>.
int arenas() {
  char* text = nullptr;
  std::size_t size = 0;
  FILE* out = open_memstream(&text, &size);
  REQUIRE(out != nullptr);
  malloc_info(0, out);
  std::fclose(out);
  const std::string info(text, size);
  std::free(text);
  int count = 0;
  for (std::size_t at = info.find("<heap nr="); at != std::string::npos; at = info.find("<heap nr=", at + 1)) {
    ++count;
  }
  return count;
}

}  // namespace

TEST_CASE("the operator's arena limit wins over serve's") {
  using kubeai::cli::operatorChoseArenaLimit;
  CHECK_FALSE(operatorChoseArenaLimit(nullptr, nullptr));                       // nothing set
  CHECK_FALSE(operatorChoseArenaLimit("", nullptr));                            // set empty: glibc ignores it
  CHECK(operatorChoseArenaLimit("4", nullptr));                                 // MALLOC_ARENA_MAX
  CHECK(operatorChoseArenaLimit(nullptr, "glibc.malloc.arena_max=8"));          // the tunable alone
  CHECK(operatorChoseArenaLimit(nullptr, "glibc.malloc.tcache_count=0:glibc.malloc.arena_max=1"));  // among others
  CHECK_FALSE(operatorChoseArenaLimit(nullptr, "glibc.malloc.arena_test=2"));   // another tunable
  CHECK_FALSE(kubeai::cli::limitMallocArenas("4", nullptr));                    // chosen: left alone
}

TEST_CASE("serve's threads share two malloc arenas, not one each") {
#if defined(__SANITIZE_ADDRESS__)
  // ASan's allocator stands in for glibc's: there are no arenas to cap, and
  // mallopt says so; serve goes on with that allocator.
  CHECK_FALSE(kubeai::cli::limitMallocArenas(nullptr, nullptr));
  return;
#endif
  REQUIRE(kubeai::cli::limitMallocArenas(nullptr, nullptr));
  const int before = arenas();
  // Eight threads alive at once, each allocating: glibc's default (8 per core)
  // would give each an arena of its own.
  constexpr int kThreads = 8;
  std::barrier allAlive(kThreads);
  std::vector<std::jthread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&allAlive] {
      std::vector<std::string> garbage(64, std::string(1000, 'x'));
      allAlive.arrive_and_wait();  // none exits (handing its arena on) before all allocated
    });
  }
  threads.clear();
  CHECK(arenas() <= std::max(before, kubeai::cli::kServeMallocArenas));
}
