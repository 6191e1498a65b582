#pragma once

#include <string_view>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace kubeai::cli {

// Hands back to the kernel the memory the allocator kept after a large
// transient: parsing a policy directory or metrics file, a /metrics scrape of
// 10,000 policies (10 MB of text, about 40 MB of objects). glibc keeps freed
// chunks in its arenas, so without this RSS stays at the highest peak, which
// is what a memory limit and the OOM killer see. It takes a few milliseconds
// with 10,000 policies (bench/README.md, "Memory per policy").
inline void releaseFreedMemory() noexcept {
#if defined(__GLIBC__)
  malloc_trim(0);
#endif
}

// The malloc arenas serve keeps, unless its operator chose a number.
inline constexpr int kServeMallocArenas = 2;

// Whether the operator chose glibc's arena limit (MALLOC_ARENA_MAX, or
// glibc.malloc.arena_max in GLIBC_TUNABLES): glibc applied it already.
inline bool operatorChoseArenaLimit(const char* mallocArenaMax, const char* tunables) noexcept {
  return (mallocArenaMax != nullptr && *mallocArenaMax != '\0') ||
         (tunables != nullptr && std::string_view(tunables).find("glibc.malloc.arena_max=") != std::string_view::npos);
}

// Caps glibc's malloc arenas at kServeMallocArenas, before serve starts its
// threads; the operator's choice (the environment, passed in) wins. Returns
// whether it set the cap.
//
// Why: glibc gives each new thread an arena of its own, up to 8 per core
// (16 here), and serve's threads (gRPC's, the loop, the watchers, the HTTP
// server) each allocate a share of every reload, cycle and scrape in theirs.
// Memory freed into one arena is reused by that arena only, and
// releaseFreedMemory() returns whole free pages only, so the partly used
// pages left in a dozen arenas added up: in a 5-minute soak with 16 arenas
// the RSS floor rose from 83 to 88 MB (+6.4 %) while the memory in use
// (malloc_stats) stayed at 55 - 56 MB; with 2 arenas the floor stayed at
// 77.2 - 77.6 MB, and over a 10-minute soak at 75.8 - 76.8 MB from its first
// minute to its last. The cost is contention on two arena locks: beside
// serve with 16 arenas, interleaved, 64 GetMetrics in flight, serve's CPU per
// call rose from 46 to 49 us and a cycle of 10,000 policies from 126 to
// 144 ms, throughput within the runs' spread (bench/README.md, "Soak").
inline bool limitMallocArenas(const char* mallocArenaMax, const char* tunables) noexcept {
#if defined(__GLIBC__)
  if (operatorChoseArenaLimit(mallocArenaMax, tunables)) {
    return false;
  }
  return mallopt(M_ARENA_MAX, kServeMallocArenas) == 1;
#else
  (void)mallocArenaMax;
  (void)tunables;
  return false;
#endif
}

}  // namespace kubeai::cli
