#include "plugin/elf_check.h"

#include <elf.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string_view>
#include <type_traits>
#include <utility>

namespace kubeai::plugin {
namespace {

// The ELF flavour this build's dynamic loader accepts.
constexpr bool kHost64 = sizeof(void*) == 8;
using Ehdr = std::conditional_t<kHost64, Elf64_Ehdr, Elf32_Ehdr>;
using Phdr = std::conditional_t<kHost64, Elf64_Phdr, Elf32_Phdr>;
using Shdr = std::conditional_t<kHost64, Elf64_Shdr, Elf32_Shdr>;
constexpr unsigned char kHostClass = kHost64 ? ELFCLASS64 : ELFCLASS32;
constexpr unsigned char kHostData = std::endian::native == std::endian::little ? ELFDATA2LSB : ELFDATA2MSB;

#if defined(__x86_64__)
constexpr std::uint16_t kHostMachine = EM_X86_64;
#elif defined(__aarch64__)
constexpr std::uint16_t kHostMachine = EM_AARCH64;
#elif defined(__i386__)
constexpr std::uint16_t kHostMachine = EM_386;
#elif defined(__arm__)
constexpr std::uint16_t kHostMachine = EM_ARM;
#elif defined(__riscv)
constexpr std::uint16_t kHostMachine = EM_RISCV;
#elif defined(__powerpc64__)
constexpr std::uint16_t kHostMachine = EM_PPC64;
#elif defined(__s390x__)
constexpr std::uint16_t kHostMachine = EM_S390;
#else
// Unknown target: the machine is left to dlopen, which checks it too.
constexpr std::uint16_t kHostMachine = EM_NONE;
#endif

std::string_view machineName(unsigned machine) {
  switch (machine) {
    case EM_X86_64: return "x86_64";
    case EM_AARCH64: return "aarch64";
    case EM_386: return "i386";
    case EM_ARM: return "arm";
    case EM_RISCV: return "riscv";
    case EM_PPC64: return "ppc64";
    case EM_PPC: return "ppc";
    case EM_S390: return "s390";
    case EM_MIPS: return "mips";
    default: return "unknown";
  }
}

std::string_view typeName(unsigned type) {
  switch (type) {
    case ET_REL: return "a relocatable object (.o)";
    case ET_EXEC: return "an executable";
    case ET_CORE: return "a core dump";
    default: return "an unknown type";
  }
}

ElfVerdict problem(ElfProblem kind, std::string message) { return ElfVerdict{kind, std::move(message)}; }

std::string stillBeingWritten(std::string_view what, std::uint64_t end, std::size_t size) {
  return "truncated: " + std::string(what) + " ends at byte " + std::to_string(end) + " of a " +
         std::to_string(size) + "-byte file (still being written?)";
}

// Reads a T at `offset`; the caller has checked the range. memcpy: the bytes
// need not be aligned for T.
template <typename T>
T readAt(std::span<const std::byte> bytes, std::uint64_t offset) {
  T value;
  std::memcpy(&value, bytes.data() + offset, sizeof value);
  return value;
}

// offset + count * entrySize, or nothing when it overflows 64 bits.
bool tableEnd(std::uint64_t offset, std::uint64_t count, std::uint64_t entrySize, std::uint64_t& end) {
  constexpr std::uint64_t kMax = std::numeric_limits<std::uint64_t>::max();
  if (entrySize != 0 && count > kMax / entrySize) return false;
  const std::uint64_t length = count * entrySize;
  if (offset > kMax - length) return false;
  end = offset + length;
  return true;
}

}  // namespace

ElfVerdict inspectElf(std::span<const std::byte> bytes) {
  const std::size_t size = bytes.size();
  constexpr std::array<unsigned char, SELFMAG> kMagic{ELFMAG0, ELFMAG1, ELFMAG2, ELFMAG3};

  if (size == 0) return problem(ElfProblem::kTruncated, "truncated: an empty file (still being written?)");
  // Shorter than the magic: an ELF file cut off, or not one at all.
  const std::size_t magicSeen = std::min<std::size_t>(size, SELFMAG);
  const bool magicPrefix = std::memcmp(bytes.data(), kMagic.data(), magicSeen) == 0;
  if (!magicPrefix) return problem(ElfProblem::kNotElf, "not an ELF file");
  if (size < sizeof(Ehdr)) {
    return problem(ElfProblem::kTruncated, stillBeingWritten("the ELF header", sizeof(Ehdr), size));
  }

  const auto header = readAt<Ehdr>(bytes, 0);
  if (header.e_ident[EI_CLASS] != kHostClass) {
    const unsigned elfClass = header.e_ident[EI_CLASS];
    const std::string_view what = elfClass == ELFCLASS32 ? "32-bit" : elfClass == ELFCLASS64 ? "64-bit" : "unknown";
    return problem(ElfProblem::kWrongTarget, "ELF class " + std::to_string(elfClass) + " (" + std::string(what) +
                                                 "), this server is " + (kHost64 ? "64-bit" : "32-bit"));
  }
  if (header.e_ident[EI_DATA] != kHostData) {
    return problem(ElfProblem::kWrongTarget, "ELF byte order " + std::to_string(header.e_ident[EI_DATA]) +
                                                 ", this server is " +
                                                 (kHostData == ELFDATA2LSB ? "little-endian" : "big-endian"));
  }
  if (header.e_ident[EI_VERSION] != EV_CURRENT || header.e_version != EV_CURRENT) {
    return problem(ElfProblem::kMalformed, "ELF version " + std::to_string(header.e_version) + ", expected 1");
  }
  if (kHostMachine != EM_NONE && header.e_machine != kHostMachine) {
    return problem(ElfProblem::kWrongTarget, "ELF for machine " + std::to_string(header.e_machine) + " (" +
                                                 std::string(machineName(header.e_machine)) + "), this server is " +
                                                 std::string(machineName(kHostMachine)));
  }
  if (header.e_type != ET_DYN) {
    return problem(ElfProblem::kWrongTarget,
                   "not a shared object: ELF type " + std::to_string(header.e_type) + " is " +
                       std::string(typeName(header.e_type)) + " (build the plugin with -shared)");
  }

  // Program headers: what the dynamic loader maps.
  if (header.e_phnum == 0) return problem(ElfProblem::kMalformed, "no program headers");
  if (header.e_phnum == PN_XNUM) return problem(ElfProblem::kMalformed, "too many program headers");
  if (header.e_phentsize != sizeof(Phdr)) {
    return problem(ElfProblem::kMalformed, "program header size " + std::to_string(header.e_phentsize) +
                                               ", expected " + std::to_string(sizeof(Phdr)));
  }
  std::uint64_t programHeadersEnd = 0;
  if (!tableEnd(header.e_phoff, header.e_phnum, sizeof(Phdr), programHeadersEnd)) {
    return problem(ElfProblem::kMalformed, "program header table offset overflows");
  }
  if (programHeadersEnd > size) {
    return problem(ElfProblem::kTruncated, stillBeingWritten("the program header table", programHeadersEnd, size));
  }
  std::size_t loads = 0;
  for (std::size_t index = 0; index < header.e_phnum; ++index) {
    const auto segment = readAt<Phdr>(bytes, header.e_phoff + index * sizeof(Phdr));
    if (segment.p_type != PT_LOAD) continue;
    ++loads;
    std::uint64_t end = 0;
    if (!tableEnd(segment.p_offset, 1, segment.p_filesz, end)) {
      return problem(ElfProblem::kMalformed, "PT_LOAD segment " + std::to_string(index) + " overflows");
    }
    if (segment.p_filesz > segment.p_memsz) {
      return problem(ElfProblem::kMalformed,
                     "PT_LOAD segment " + std::to_string(index) + " is larger in the file than in memory");
    }
    if (end > size) {
      return problem(ElfProblem::kTruncated, stillBeingWritten("PT_LOAD segment " + std::to_string(index), end, size));
    }
  }
  if (loads == 0) return problem(ElfProblem::kMalformed, "no PT_LOAD segment");

  // Section headers are not loaded, but a linker writes them last: a copy
  // cut off before them is incomplete even when every segment is in.
  if (header.e_shoff != 0) {
    if (header.e_shentsize != sizeof(Shdr)) {
      return problem(ElfProblem::kMalformed, "section header size " + std::to_string(header.e_shentsize) +
                                                 ", expected " + std::to_string(sizeof(Shdr)));
    }
    std::uint64_t sectionHeadersEnd = 0;
    // e_shnum 0 with a table: the count is in entry 0, which must be there.
    const std::uint64_t sections = header.e_shnum == 0 ? 1 : header.e_shnum;
    if (!tableEnd(header.e_shoff, sections, sizeof(Shdr), sectionHeadersEnd)) {
      return problem(ElfProblem::kMalformed, "section header table offset overflows");
    }
    if (sectionHeadersEnd > size) {
      return problem(ElfProblem::kTruncated, stillBeingWritten("the section header table", sectionHeadersEnd, size));
    }
  }
  return ElfVerdict{};
}

core::Status checkElf(std::span<const std::byte> bytes) {
  ElfVerdict verdict = inspectElf(bytes);
  if (verdict.ok()) return core::Ok{};
  return core::Error{std::move(verdict.message)};
}

}  // namespace kubeai::plugin
