#pragma once

#include <cstddef>
#include <span>
#include <string>

#include "core/result.h"

namespace kubeai::plugin {

// What is wrong with bytes offered as a plugin, if anything.
enum class ElfProblem {
  kNone,
  kNotElf,       // no ELF magic
  kWrongTarget,  // another class, byte order or machine than this server's, or not a shared object
  kMalformed,    // headers that make no sense (overflowing offsets, wrong entry sizes)
  kTruncated,    // headers or segments past the end: most likely a file still being written
};

struct ElfVerdict {
  ElfProblem problem = ElfProblem::kNone;
  std::string message;  // empty when problem is kNone

  [[nodiscard]] bool ok() const noexcept { return problem == ElfProblem::kNone; }
};

// Checks that `bytes` are a shared object the dynamic loader of this server
// could map without reading past their end: ELF magic, this build's class
// (ELFCLASS64 on 64-bit hosts), byte order and machine, e_type ET_DYN, the
// program header table, every PT_LOAD's file range, and the section header
// table (usually the last bytes of a .so, so a cut-off copy shows there too)
// within the bytes, with no overflow. Pure (no I/O), so it can be fuzzed.
// Messages say what is wrong, e.g. "ELF for machine 183 (aarch64), this server
// is x86_64" or "truncated: PT_LOAD segment 2 ends at byte 16384 of a 4096-byte
// file (still being written?)".
[[nodiscard]] ElfVerdict inspectElf(std::span<const std::byte> bytes);

// inspectElf() as a Status (the message as the error).
[[nodiscard]] core::Status checkElf(std::span<const std::byte> bytes);

}  // namespace kubeai::plugin
