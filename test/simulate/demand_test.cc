#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <numeric>
#include <sstream>
#include <string>
#include <unistd.h>
#include <vector>

#include "simulate/demand.h"
#include "support/temp_dir.h"

namespace {

using kubeai::simulate::DemandSeries;
using kubeai::simulate::kMaxDemandSteps;
using kubeai::simulate::kMaxTraceFileBytes;
using kubeai::simulate::loadArrivalsCsv;
using kubeai::simulate::loadRateCsv;
using kubeai::simulate::parseArrivalsCsv;
using kubeai::simulate::parseRateCsv;
using kubeai::simulate::parseTimestampMicros;
using namespace std::chrono_literals;

constexpr const char* kArrivalsHeader = "TIMESTAMP,ContextTokens,GeneratedTokens\n";
constexpr const char* kRateHeader = "time,requestsPerSecond\n";

// The Azure LLM inference trace 2023 (code), ../shared/traces/ beside the repository.
std::filesystem::path tracePath() {
#ifdef KUBEAI_TRACES_DIR
  return std::filesystem::path(KUBEAI_TRACES_DIR) / "azure-llm-inference-2023-code.csv";
#else
  const auto repository = std::filesystem::path(__FILE__).parent_path().parent_path().parent_path();
  return repository.parent_path() / "shared" / "traces" / "azure-llm-inference-2023-code.csv";
#endif
}

std::string readAll(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

double requestsIn(const DemandSeries& series) {
  const double seconds = std::chrono::duration<double>(series.interval).count();
  double total = 0;
  for (const auto& step : series.steps) {
    total += step.requestsPerSecond * seconds;
  }
  return total;
}

std::vector<double> rates(const DemandSeries& series) {
  std::vector<double> out;
  for (const auto& step : series.steps) {
    out.push_back(step.requestsPerSecond);
  }
  return out;
}


}  // namespace

TEST_CASE("trace timestamps: the Azure trace's form and RFC 3339") {
  // 2023-11-16 18:17:03 UTC is 1700158623 s since the epoch.
  constexpr std::int64_t kBase = 1'700'158'623'000'000;
  struct Row {
    const char* text;
    std::optional<std::int64_t> micros;
  };
  const std::vector<Row> rows = {
      {"2023-11-16 18:17:03.9799600", kBase + 979'960},  // the Azure trace: 7 digits, UTC
      {"2023-11-16 18:17:03", kBase},                    // no fraction
      {"2023-11-16T18:17:03.97Z", kBase + 970'000},      // RFC 3339
      {"2023-11-16t18:17:03z", kBase},                   // RFC 3339 allows lower case
      {"2023-11-16T19:17:03+01:00", kBase},              // an offset
      {"2023-11-16T17:47:03.5-00:30", kBase + 500'000},
      {"1970-01-01T00:00:00Z", 0},
      {"2024-02-29 00:00:00", 1'709'164'800'000'000},  // a leap day
      {"2023-02-29 00:00:00", std::nullopt},           // not a leap year
      {"2023-13-01 00:00:00", std::nullopt},
      {"2023-11-16 24:00:00", std::nullopt},
      {"2023-11-16 18:17", std::nullopt},
      {"2023-11-16 18:17:03.", std::nullopt},  // a dot without digits
      {"2023-11-16 18:17:03 UTC", std::nullopt},
      {"2023-11-16T18:17:03+0100", std::nullopt},
      {"0000-01-01 00:00:00", std::nullopt},
      {"1700158623", std::nullopt},
      {"", std::nullopt},
  };
  for (const Row& row : rows) {
    INFO(row.text);
    CHECK(parseTimestampMicros(row.text) == row.micros);
  }
}

TEST_CASE("arrivals are binned into intervals from the first timestamp") {
  // Interval 10 s from 00:00:00: [0,10) holds 2 requests, [10,20) one, [20,30) none, [30,40) one.
  const std::string trace = std::string(kArrivalsHeader) +
                            "2024-01-01 00:00:00.0000000,100,10\n"
                            "2024-01-01 00:00:09.9999990,300,30\n"
                            "2024-01-01T00:00:12Z,1000,5\n"
                            "2024-01-01 00:00:35.5,200,1\n";
  const auto parsed = parseArrivalsCsv(trace, "t.csv", 10s);
  REQUIRE_MESSAGE(parsed.ok(), parsed.error().message);
  const DemandSeries& series = parsed.value();
  CHECK(series.interval == 10s);
  REQUIRE(series.steps.size() == 4);
  CHECK(rates(series) == std::vector<double>{0.2, 0.1, 0.0, 0.1});
  CHECK(series.steps[0].meanContextTokens == 200);
  CHECK(series.steps[0].meanGeneratedTokens == 20);
  CHECK(series.steps[1].meanContextTokens == 1000);
  CHECK(series.steps[2].meanContextTokens == 0);  // no requests: the model uses the trace's means
  CHECK(series.steps[2].meanGeneratedTokens == 0);
  CHECK(series.meanContextTokens == 400);
  CHECK(series.meanGeneratedTokens == 11.5);
}

TEST_CASE("the Azure code trace: 8,819 requests over about an hour") {
  const auto path = tracePath();
  REQUIRE_MESSAGE(std::filesystem::exists(path), "the trace is expected at " << path.string());
  const std::string text = readAll(path);

  // The best of three: the machine is shared, a parse is not.
  auto elapsed = std::chrono::steady_clock::duration::max();
  for (int run = 0; run < 3; ++run) {
    const auto started = std::chrono::steady_clock::now();
    const auto timed = parseArrivalsCsv(text, path.string(), 15s);
    elapsed = std::min(elapsed, std::chrono::steady_clock::now() - started);
    REQUIRE(timed.ok());
  }
  MESSAGE("parsed 8,819 lines in " << std::chrono::duration<double, std::milli>(elapsed).count() << " ms");
  // How fast is a benchmark's question (bench/simulate), not a unit test's: reported only.
  const auto parsed = parseArrivalsCsv(text, path.string(), 15s);
  REQUIRE_MESSAGE(parsed.ok(), parsed.error().message);
  const DemandSeries& series = parsed.value();

  CHECK(requestsIn(series) == doctest::Approx(8819).epsilon(1e-12));
  // 18:17:03.98 to 19:14:19.93: 3,435.95 s, 230 steps of 15 s.
  CHECK(series.steps.size() == 230);
  CHECK(series.meanContextTokens > 0);
  CHECK(series.meanGeneratedTokens > 0);
  // Every step has the requests of its interval: the first holds 18:17:03.98 to 18:17:18.98.
  std::size_t first = 0;
  for (std::size_t position = text.find('\n') + 1; position < text.size(); position = text.find('\n', position) + 1) {
    if (text.compare(position, 19, "2023-11-16 18:17:18") > 0) {
      break;
    }
    ++first;
  }
  CHECK(series.steps[0].requestsPerSecond * 15 == doctest::Approx(static_cast<double>(first)));

  // The loader reads in chunks; a line cut between two must not change anything.
  const auto loaded = loadArrivalsCsv(path, 15s);
  REQUIRE_MESSAGE(loaded.ok(), loaded.error().message);
  REQUIRE(loaded.value().steps.size() == series.steps.size());
  for (std::size_t i = 0; i < series.steps.size(); ++i) {
    CHECK(loaded.value().steps[i].requestsPerSecond == series.steps[i].requestsPerSecond);
    CHECK(loaded.value().steps[i].meanContextTokens == series.steps[i].meanContextTokens);
  }
  CHECK(loaded.value().meanGeneratedTokens == series.meanGeneratedTokens);
}

TEST_CASE("a rate series: each step is the time-weighted mean of the values over it") {
  struct Row {
    const char* rows;
    std::vector<double> expected;  // per 10 s step
  };
  const std::vector<Row> table = {
      // 2 for 5 s, then 4 for 5 s: 3; then 1 until the end of its interval.
      {"0,2\n5,4\n10,1\n", {3, 1}},
      // 1 held across two steps and half of the third, 3 for its second half.
      {"0,1\n25,3\n", {1, 1, 2}},
      // Time 0 is the first row, not 0 s: the same series shifted by 100 s.
      {"100,2\n105,4\n110,1\n", {3, 1}},
      // Changes within one step: (1*2 + 5*3 + 0*5) / 10.
      {"0,1\n2,5\n5,0\n", {1.7}},
      // RFC 3339 times, 2.5 s apart.
      {"2024-01-01T00:00:00Z,4\n2024-01-01T00:00:02.5Z,0\n2024-01-01T00:00:12.5Z,8\n", {1, 6}},
      // Fractional seconds, and one row alone.
      {"0.5,6\n", {6}},
  };
  for (const Row& row : table) {
    INFO(row.rows);
    const auto parsed = parseRateCsv(std::string(kRateHeader) + row.rows, "r.csv", 10s);
    REQUIRE_MESSAGE(parsed.ok(), parsed.error().message);
    const auto got = rates(parsed.value());
    REQUIRE(got.size() == row.expected.size());
    for (std::size_t i = 0; i < got.size(); ++i) {
      CHECK(got[i] == doctest::Approx(row.expected[i]));
    }
    CHECK(parsed.value().meanContextTokens == 0);
  }
}

TEST_CASE("CRLF line ends, a BOM, empty lines and header case are accepted") {
  const auto lf = parseArrivalsCsv(std::string(kArrivalsHeader) + "2024-01-01 00:00:00,1,2\n2024-01-01 00:00:20,3,4\n",
                                   "a.csv", 15s);
  const auto crlf = parseArrivalsCsv(
      "\xEF\xBB\xBFtimestamp, contextTokens ,GENERATEDTOKENS\r\n2024-01-01 00:00:00,1,2\r\n\r\n2024-01-01 00:00:20 , 3 ,4",
      "a.csv", 15s);
  REQUIRE_MESSAGE(lf.ok(), lf.error().message);
  REQUIRE_MESSAGE(crlf.ok(), crlf.error().message);
  CHECK(rates(lf.value()) == rates(crlf.value()));
  CHECK(lf.value().meanContextTokens == crlf.value().meanContextTokens);
  const auto rate = parseRateCsv("time,requestsPerSecond\r\n0,1\r\n10,2\r\n", "r.csv", 10s);
  REQUIRE_MESSAGE(rate.ok(), rate.error().message);
  CHECK(rates(rate.value()) == std::vector<double>{1, 2});
}

TEST_CASE("a bad arrivals trace is refused with its file and line") {
  struct Row {
    std::string text;
    const char* error;
  };
  const std::string h = kArrivalsHeader;
  const std::string ok = "2024-01-01 00:00:00,1,1\n";
  const std::vector<Row> rows = {
      {h + ok + "2024-01-01 00:00:10,1,1\n2024-01-01 00:00:05,1,1\n",
       "a.csv:4: time goes back: \"2024-01-01 00:00:05\" is before line 3's \"2024-01-01 00:00:10\""},
      {h + ok + "2024-01-01 00:00:01,1\n",
       "a.csv:3: missing column GeneratedTokens (3 columns: TIMESTAMP,ContextTokens,GeneratedTokens)"},
      {h + "2024-01-01 00:00:01\n", "a.csv:2: missing column ContextTokens"},
      {h + ok + "2024-01-01 00:00:01,1,1,7\n",
       "a.csv:3: extra column: 3 columns (TIMESTAMP,ContextTokens,GeneratedTokens), got 4"},
      {h + "2024-01-01 00:00:01,-5,1\n", "a.csv:2: ContextTokens: negative (\"-5\"), must be >= 0"},
      {h + "2024-01-01 00:00:01,1,nan\n", "a.csv:2: GeneratedTokens: NaN, a number is required"},
      {h + "2024-01-01 00:00:01,inf,1\n", "a.csv:2: ContextTokens: infinite, a finite number is required"},
      {h + "2024-01-01 00:00:01,12tokens,1\n", "a.csv:2: ContextTokens: not a number: \"12tokens\""},
      {h + "2024-01-01 00:00:01,,1\n", "a.csv:2: ContextTokens: empty"},
      {h + "yesterday,1,1\n", "a.csv:2: TIMESTAMP: not a time: \"yesterday\""},
      {"time,ContextTokens,GeneratedTokens\n" + ok, "a.csv:1: wrong header: must be TIMESTAMP,ContextTokens,GeneratedTokens, got \"time,ContextTokens,GeneratedTokens\""},
      {"TIMESTAMP,ContextTokens\n" + ok, "a.csv:1: wrong header"},
      {ok + ok, "a.csv:1: missing header: line 1 must be TIMESTAMP,ContextTokens,GeneratedTokens, got a data row"},
      {"", "a.csv: empty file, expected the header TIMESTAMP,ContextTokens,GeneratedTokens"},
      {h, "a.csv: no data rows (an empty trace)"},
      {h + "\r\n\n\r\n", "a.csv: no data rows (an empty trace)"},
      {h + ok + std::string(5000, '1') + "\n", "a.csv:3: line longer than 4096 bytes"},
      // A year of 1 s steps is more than any simulation has.
      {h + ok + "2025-01-01 00:00:00,1,1\n", "a.csv:3: the trace spans more than 2097152 intervals of 1000 ms"},
  };
  for (const Row& row : rows) {
    INFO(row.text.substr(0, 200));
    const auto parsed = parseArrivalsCsv(row.text, "a.csv", 1s);
    REQUIRE_FALSE(parsed.ok());
    INFO(parsed.error().message);
    CHECK(parsed.error().message.rfind(row.error, 0) == 0);
  }
}

TEST_CASE("a bad rate series is refused with its file and line") {
  struct Row {
    std::string text;
    const char* error;
  };
  const std::string h = kRateHeader;
  const std::vector<Row> rows = {
      {h + "0,1\n10,2\n10,3\n", "r.csv:4: duplicate time \"10\" (also line 3); times must be strictly increasing"},
      {h + "0,1\n10,2\n5,3\n", "r.csv:4: time goes back: \"5\" is before line 3's \"10\"; times must be strictly"},
      {h + "2024-01-01T00:00:10Z,1\n2024-01-01T00:00:10Z,1\n", "r.csv:3: duplicate time \"2024-01-01T00:00:10Z\""},
      {h + "0,-1\n", "r.csv:2: requestsPerSecond: negative (\"-1\"), must be >= 0"},
      {h + "0,NaN\n", "r.csv:2: requestsPerSecond: NaN, a number is required"},
      {h + "0,-inf\n", "r.csv:2: requestsPerSecond: infinite"},
      {h + "0,lots\n", "r.csv:2: requestsPerSecond: not a number: \"lots\""},
      {h + "0,1e13\n", "r.csv:2: requestsPerSecond: \"1e13\" is larger than 1e12"},
      {h + "nan,1\n", "r.csv:2: time: \"nan\" must be seconds in [0, 1e11] or an RFC 3339 time"},
      {h + "-5,1\n", "r.csv:2: time: \"-5\" must be seconds"},
      {h + "0,1\n2024-01-01T00:00:10Z,1\n", "r.csv:3: time: an RFC 3339 time, but line 2 has seconds (one kind per file)"},
      {h + "0\n", "r.csv:2: missing column requestsPerSecond (2 columns: time,requestsPerSecond)"},
      {h + "0,1,2\n", "r.csv:2: extra column: 2 columns (time,requestsPerSecond), got 3"},
      {"t,requestsPerSecond\n0,1\n", "r.csv:1: wrong header: must be time,requestsPerSecond, got \"t,requestsPerSecond\""},
      {"0,1\n", "r.csv:1: missing header: line 1 must be time,requestsPerSecond, got a data row"},
      {"", "r.csv: empty file, expected the header time,requestsPerSecond"},
      {h, "r.csv: no data rows (an empty trace)"},
      {h + "0,1\n99999999,1\n", "r.csv:3: the trace spans more than 2097152 intervals of 1000 ms"},
  };
  for (const Row& row : rows) {
    INFO(row.text);
    const auto parsed = parseRateCsv(row.text, "r.csv", 1s);
    REQUIRE_FALSE(parsed.ok());
    INFO(parsed.error().message);
    CHECK(parsed.error().message.rfind(row.error, 0) == 0);
  }
}

TEST_CASE("an interval that is not positive is an error, not a division by zero") {
  const auto arrivals = parseArrivalsCsv(std::string(kArrivalsHeader) + "2024-01-01 00:00:00,1,1\n", "a.csv", 0ms);
  REQUIRE_FALSE(arrivals.ok());
  CHECK(arrivals.error().message == "a.csv: the interval must be greater than 0 and at most a week");
  const auto rate = parseRateCsv(std::string(kRateHeader) + "0,1\n", "r.csv", -1ms);
  REQUIRE_FALSE(rate.ok());
}

TEST_CASE("the loaders refuse what is not a trace file before reading it") {
  kubeai::testing::TempDir dir;
  // A sparse file of 1 GB: refused by its size, without reading a byte of it.
  const auto big = dir.path() / "big.csv";
  std::ofstream(big).put('T');
  std::filesystem::resize_file(big, 1024ull * 1024 * 1024);
  const auto started = std::chrono::steady_clock::now();
  const auto huge = loadArrivalsCsv(big, 15s);
  const auto elapsed = std::chrono::steady_clock::now() - started;
  REQUIRE_FALSE(huge.ok());
  CHECK(huge.error().message ==
        big.string() + ": 1073741824 bytes, larger than the " + std::to_string(kMaxTraceFileBytes) + " a trace may have");
  CHECK(elapsed < 100ms);
  CHECK_FALSE(loadRateCsv(big, 15s).ok());

  const auto missing = loadRateCsv(dir.path() / "absent.csv", 15s);
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().message == "no such file: " + (dir.path() / "absent.csv").string());

  const auto device = loadArrivalsCsv("/dev/zero", 15s);
  REQUIRE_FALSE(device.ok());
  CHECK(device.error().message == "/dev/zero: not a regular file");

  const auto directory = loadArrivalsCsv(dir.path(), 15s);
  REQUIRE_FALSE(directory.ok());
  CHECK(directory.error().message == dir.path().string() + ": not a regular file");

  // Errors in a file name it, with the line.
  const auto bad = dir.write("rate.csv", "time,requestsPerSecond\r\n0,1\r\n0,2\r\n");
  const auto duplicate = loadRateCsv(bad, 15s);
  REQUIRE_FALSE(duplicate.ok());
  CHECK(duplicate.error().message.rfind(bad.string() + ":3: duplicate time \"0\" (also line 2)", 0) == 0);

  // A line longer than any trace line, cut across the loader's chunks.
  const auto longLine = dir.write("long.csv", std::string(kArrivalsHeader) + std::string(200'000, '9') + "\n");
  const auto tooLong = loadArrivalsCsv(longLine, 15s);
  REQUIRE_FALSE(tooLong.ok());
  CHECK(tooLong.error().message == longLine.string() + ":2: line longer than 4096 bytes");

  // The last line without a '\n' is read, from a file as from text.
  const auto noNewline = dir.write("n.csv", "time,requestsPerSecond\n0,1\n10,3");
  const auto lastLine = loadRateCsv(noNewline, 10s);
  REQUIRE_MESSAGE(lastLine.ok(), lastLine.error().message);
  CHECK(rates(lastLine.value()) == std::vector<double>{1, 3});
}

TEST_CASE("a large arrivals trace parses in one pass") {
  // A day at 100 requests per second would be 8.6 M lines; 1 M keeps the test quick.
  std::string text = kArrivalsHeader;
  constexpr int kLines = 1'000'000;
  text.reserve(static_cast<std::size_t>(kLines) * 36);
  char line[64];
  for (int i = 0; i < kLines; ++i) {
    const int centis = i;  // 100 requests per second
    std::snprintf(line, sizeof line, "2024-01-01 %02d:%02d:%02d.%02d,%d,%d\n", centis / 360000, centis / 6000 % 60,
                  centis / 100 % 60, centis % 100, 100 + i % 7, 1 + i % 3);
    text += line;
  }
  const auto started = std::chrono::steady_clock::now();
  const auto parsed = parseArrivalsCsv(text, "big.csv", 15s);
  const auto elapsed = std::chrono::steady_clock::now() - started;
  REQUIRE_MESSAGE(parsed.ok(), parsed.error().message);
  MESSAGE("parsed 1,000,000 lines in " << std::chrono::duration<double, std::milli>(elapsed).count() << " ms");
  CHECK(parsed.value().steps.size() == 667);  // 10,000 s of requests
  CHECK(requestsIn(parsed.value()) == doctest::Approx(kLines));
  CHECK(parsed.value().steps[1].requestsPerSecond == doctest::Approx(100));
}

TEST_CASE("scaleDemand multiplies the rate and leaves the tokens") {
  auto parsed = parseArrivalsCsv(std::string(kArrivalsHeader) + "2024-01-01 00:00:00,10,20\n", "a.csv", 10s);
  REQUIRE(parsed.ok());
  kubeai::simulate::scaleDemand(parsed.value(), 2.5);
  CHECK(parsed.value().steps[0].requestsPerSecond == doctest::Approx(0.25));
  CHECK(parsed.value().steps[0].meanContextTokens == 10);
}
