#pragma once

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

}  // namespace kubeai::cli
