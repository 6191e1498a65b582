#include "plugin/elf_check.h"

#include <doctest/doctest.h>
#include <elf.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <string>
#include <vector>

namespace kubeai::plugin {
namespace {

using Bytes = std::vector<std::byte>;
using Ehdr = Elf64_Ehdr;
using Phdr = Elf64_Phdr;

Bytes readFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  const std::string text((std::istreambuf_iterator<char>(in)), {});
  Bytes bytes(text.size());
  std::memcpy(bytes.data(), text.data(), text.size());
  return bytes;
}

Bytes bytesOf(const std::string& text) {
  Bytes bytes(text.size());
  std::memcpy(bytes.data(), text.data(), text.size());
  return bytes;
}

Ehdr headerOf(const Bytes& bytes) {
  Ehdr header;
  std::memcpy(&header, bytes.data(), sizeof header);
  return header;
}

void setHeader(Bytes& bytes, const Ehdr& header) { std::memcpy(bytes.data(), &header, sizeof header); }

// The index of the first PT_LOAD program header.
std::size_t firstLoad(const Bytes& bytes) {
  const Ehdr header = headerOf(bytes);
  for (std::size_t index = 0; index < header.e_phnum; ++index) {
    Phdr segment;
    std::memcpy(&segment, bytes.data() + header.e_phoff + index * sizeof(Phdr), sizeof segment);
    if (segment.p_type == PT_LOAD) return index;
  }
  FAIL("no PT_LOAD in the fixture");
  return 0;
}

Phdr segmentAt(const Bytes& bytes, std::size_t index) {
  Phdr segment;
  std::memcpy(&segment, bytes.data() + headerOf(bytes).e_phoff + index * sizeof(Phdr), sizeof segment);
  return segment;
}

void setSegment(Bytes& bytes, std::size_t index, const Phdr& segment) {
  std::memcpy(bytes.data() + headerOf(bytes).e_phoff + index * sizeof(Phdr), &segment, sizeof segment);
}

#if defined(__x86_64__)
constexpr std::uint16_t kOtherMachine = EM_AARCH64;
const std::string kMachineMessage = "ELF for machine 183 (aarch64), this server is x86_64";
#elif defined(__aarch64__)
constexpr std::uint16_t kOtherMachine = EM_X86_64;
const std::string kMachineMessage = "ELF for machine 62 (x86_64), this server is aarch64";
#endif

static_assert(sizeof(void*) == 8, "these fixtures are 64-bit ELF files");

TEST_CASE("checkElf accepts the built fixtures and example plugins") {
  for (const char* file : {FIXTURE_GOOD_A_SO, FIXTURE_CPP_SO, STEP_SCALE_SO, CAPPED_SMOOTH_RATIO_SO}) {
    CAPTURE(file);
    const Bytes bytes = readFile(file);
    REQUIRE(bytes.size() > 4096);
    const ElfVerdict verdict = inspectElf(bytes);
    CHECK(verdict.ok());
    CHECK(verdict.message.empty());
    CHECK(checkElf(bytes).ok());
  }
}

TEST_CASE("checkElf: every cut-off copy of a real plugin is truncated, never accepted") {
  const Bytes whole = readFile(STEP_SCALE_SO);
  // Every length up to the whole file less one byte, in steps that hit each
  // table boundary somewhere, and the lengths a copy stops at in practice.
  std::vector<std::size_t> lengths = {0, 1, 3, 4, 16, 63, 64, 100, 4096, 8192, whole.size() - 1};
  for (std::size_t length = 0; length < whole.size(); length += 61) lengths.push_back(length);
  for (std::size_t length : lengths) {
    CAPTURE(length);
    const ElfVerdict verdict = inspectElf(std::span(whole.data(), length));
    CHECK(verdict.problem == ElfProblem::kTruncated);
    CHECK(verdict.message.find("truncated: ") == 0);
    CHECK(verdict.message.find("(still being written?)") != std::string::npos);
  }
}

TEST_CASE("checkElf: the first 4 KiB of a plugin say which segment runs past the end") {
  const Bytes whole = readFile(STEP_SCALE_SO);
  const std::size_t index = firstLoad(whole);
  // The first PT_LOAD whose end is past 4096 is the one named.
  const Ehdr header = headerOf(whole);
  std::size_t named = index;
  std::uint64_t end = 0;
  for (std::size_t i = 0; i < header.e_phnum; ++i) {
    const Phdr segment = segmentAt(whole, i);
    if (segment.p_type == PT_LOAD && segment.p_offset + segment.p_filesz > 4096) {
      named = i;
      end = segment.p_offset + segment.p_filesz;
      break;
    }
  }
  REQUIRE(end > 4096);
  CHECK(checkElf(std::span(whole.data(), 4096)).error().message ==
        "truncated: PT_LOAD segment " + std::to_string(named) + " ends at byte " + std::to_string(end) +
            " of a 4096-byte file (still being written?)");
}

TEST_CASE("checkElf: the wrong flavour of ELF, and not ELF at all") {
  const Bytes good = readFile(FIXTURE_GOOD_A_SO);
  struct Row {
    const char* what;
    Bytes bytes;
    ElfProblem problem;
    std::string message;
  };
  Bytes otherClass = good;
  otherClass[EI_CLASS] = std::byte{ELFCLASS32};
  Bytes otherOrder = good;
  otherOrder[EI_DATA] = std::byte{ELFDATA2MSB};
  Bytes otherMachine = good;
  Ehdr header = headerOf(good);
  header.e_machine = kOtherMachine;
  setHeader(otherMachine, header);
  Bytes executable = good;
  header = headerOf(good);
  header.e_type = ET_EXEC;
  setHeader(executable, header);
  Bytes relocatable = good;
  header.e_type = ET_REL;
  setHeader(relocatable, header);

  for (const Row& row : {
           // A 32-bit plugin (the class byte flipped).
           Row{"class", otherClass, ElfProblem::kWrongTarget, "ELF class 1 (32-bit), this server is 64-bit"},
           // Big-endian.
           Row{"byte order", otherOrder, ElfProblem::kWrongTarget, "ELF byte order 2, this server is little-endian"},
           // Built for another machine.
           Row{"machine", otherMachine, ElfProblem::kWrongTarget, kMachineMessage},
           // An executable or an object file, not a shared object.
           Row{"executable", executable, ElfProblem::kWrongTarget,
               "not a shared object: ELF type 2 is an executable (build the plugin with -shared)"},
           Row{"object", relocatable, ElfProblem::kWrongTarget,
               "not a shared object: ELF type 1 is a relocatable object (.o) (build the plugin with -shared)"},
           // Text, a script, a file with the magic's first byte only.
           Row{"text", bytesOf("not an ELF file"), ElfProblem::kNotElf, "not an ELF file"},
           Row{"script", bytesOf("#!/bin/sh\necho hi\n"), ElfProblem::kNotElf, "not an ELF file"},
           Row{"almost magic", bytesOf("\x7f" "ELG and more bytes than a magic"), ElfProblem::kNotElf,
               "not an ELF file"},
       }) {
    CAPTURE(row.what);
    const ElfVerdict verdict = inspectElf(row.bytes);
    CHECK(verdict.problem == row.problem);
    CHECK(verdict.message == row.message);
  }
}

TEST_CASE("checkElf: headers whose offsets overflow or lie are malformed, not read") {
  const Bytes good = readFile(FIXTURE_GOOD_A_SO);
  const std::size_t load = firstLoad(good);
  constexpr std::uint64_t kMax = std::numeric_limits<std::uint64_t>::max();

  Bytes phoffOverflow = good;
  Ehdr header = headerOf(good);
  header.e_phoff = kMax - 8;
  setHeader(phoffOverflow, header);
  CHECK(checkElf(phoffOverflow).error().message == "program header table offset overflows");

  Bytes phoffPastEnd = good;
  header = headerOf(good);
  header.e_phoff = good.size();
  setHeader(phoffPastEnd, header);
  CHECK(inspectElf(phoffPastEnd).problem == ElfProblem::kTruncated);

  Bytes wrongEntrySize = good;
  header = headerOf(good);
  header.e_phentsize = 12;
  setHeader(wrongEntrySize, header);
  CHECK(checkElf(wrongEntrySize).error().message == "program header size 12, expected 56");

  Bytes noHeaders = good;
  header = headerOf(good);
  header.e_phnum = 0;
  setHeader(noHeaders, header);
  CHECK(checkElf(noHeaders).error().message == "no program headers");

  Bytes segmentOverflow = good;
  Phdr segment = segmentAt(good, load);
  segment.p_offset = kMax - 4;
  setSegment(segmentOverflow, load, segment);
  CHECK(checkElf(segmentOverflow).error().message == "PT_LOAD segment " + std::to_string(load) + " overflows");

  Bytes fileLargerThanMemory = good;
  segment = segmentAt(good, load);
  segment.p_filesz = segment.p_memsz + 1;
  setSegment(fileLargerThanMemory, load, segment);
  CHECK(inspectElf(fileLargerThanMemory).problem == ElfProblem::kMalformed);

  Bytes shoffOverflow = good;
  header = headerOf(good);
  header.e_shoff = kMax - 8;
  setHeader(shoffOverflow, header);
  CHECK(checkElf(shoffOverflow).error().message == "section header table offset overflows");

  // No section headers at all (e_shoff 0) is allowed: the loader never reads them.
  Bytes noSections = good;
  header = headerOf(good);
  header.e_shoff = 0;
  header.e_shnum = 0;
  setHeader(noSections, header);
  CHECK(checkElf(noSections).ok());
}

}  // namespace
}  // namespace kubeai::plugin
