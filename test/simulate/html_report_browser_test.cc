// The HTML report in a real browser: headless Chromium renders a generated
// report to a PNG, and the pixels show that every chart drew. Chromium is a
// test dependency (scripts/install-deps): without it this test fails.

#include <doctest/doctest.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <spawn.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <array>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "report_fixture.h"
#include "simulate/html_report.h"
#include "simulate/svg_chart.h"
#include "support/temp_dir.h"

extern char** environ;

namespace kubeai::simulate {
namespace {

constexpr const char* kChromium = "/usr/bin/chromium";
constexpr const char* kTimeout = "/usr/bin/timeout";  // coreutils
constexpr std::size_t kWindowWidth = 1400;
constexpr std::size_t kWindowHeight = 3200;  // all six charts

struct Rgb {
  std::uint8_t r = 0, g = 0, b = 0;
};

Rgb parseColor(std::string_view hex) {
  REQUIRE(hex.size() == 7);
  const auto channel = [&hex](std::size_t at) {
    return static_cast<std::uint8_t>(std::stoi(std::string(hex.substr(at, 2)), nullptr, 16));
  };
  return {channel(1), channel(3), channel(5)};
}

struct Image {
  std::size_t width = 0;
  std::size_t height = 0;
  std::vector<Rgb> pixels;  // row-major
  Rgb at(std::size_t x, std::size_t y) const { return pixels[y * width + x]; }
};

std::uint32_t bigEndian(const unsigned char* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
         std::uint32_t{p[3]};
}

int paeth(int a, int b, int c) {
  const int p = a + b - c;
  const int pa = std::abs(p - a);
  const int pb = std::abs(p - b);
  const int pc = std::abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

// The PNG Chromium writes: 8-bit RGB or RGBA, not interlaced (anything else
// is an error that says what it found). Returns "" or the error.
std::string decodePng(const std::string& file, Image& image) {
  std::ifstream in(file, std::ios::binary);
  const std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto* bytes = reinterpret_cast<const unsigned char*>(data.data());
  if (data.size() < 8 || std::memcmp(bytes, "\x89PNG\r\n\x1a\n", 8) != 0) {
    return file + ": not a PNG (" + std::to_string(data.size()) + " bytes)";
  }
  std::string idat;
  std::size_t channels = 0;
  for (std::size_t at = 8; at + 12 <= data.size();) {
    const std::uint32_t length = bigEndian(bytes + at);
    const std::string_view type(data.data() + at + 4, 4);
    if (at + 12 + length > data.size()) {
      return file + ": chunk " + std::string(type) + " runs past the end";
    }
    const unsigned char* body = bytes + at + 8;
    if (type == "IHDR") {
      image.width = bigEndian(body);
      image.height = bigEndian(body + 4);
      const int depth = body[8];
      const int colorType = body[9];
      if (depth != 8 || (colorType != 2 && colorType != 6) || body[12] != 0) {
        return file + ": bit depth " + std::to_string(depth) + ", color type " +
               std::to_string(colorType) + ", interlace " + std::to_string(body[12]) +
               " (this decoder reads 8-bit RGB/RGBA, not interlaced)";
      }
      channels = colorType == 2 ? 3 : 4;
    } else if (type == "IDAT") {
      idat.append(reinterpret_cast<const char*>(body), length);
    } else if (type == "IEND") {
      break;
    }
    at += 12 + length;
  }
  if (channels == 0 || image.width == 0 || image.height == 0 || image.width > 20000 ||
      image.height > 20000) {
    return file + ": no IHDR";
  }
  const std::size_t stride = image.width * channels;
  std::vector<unsigned char> raw((stride + 1) * image.height);
  uLongf rawSize = raw.size();
  if (uncompress(raw.data(), &rawSize, reinterpret_cast<const Bytef*>(idat.data()), idat.size()) !=
          Z_OK ||
      rawSize != raw.size()) {
    return file + ": the image data does not inflate to " + std::to_string(raw.size()) + " bytes";
  }
  std::vector<unsigned char> previous(stride, 0);
  std::vector<unsigned char> row(stride);
  image.pixels.resize(image.width * image.height);
  for (std::size_t y = 0; y < image.height; ++y) {
    const unsigned char* line = raw.data() + y * (stride + 1);
    const int filter = line[0];
    for (std::size_t i = 0; i < stride; ++i) {
      const int a = i >= channels ? row[i - channels] : 0;
      const int b = previous[i];
      const int c = i >= channels ? previous[i - channels] : 0;
      int predictor = 0;
      switch (filter) {
        case 0: predictor = 0; break;
        case 1: predictor = a; break;
        case 2: predictor = b; break;
        case 3: predictor = (a + b) / 2; break;
        case 4: predictor = paeth(a, b, c); break;
        default: return file + ": row " + std::to_string(y) + " has filter " + std::to_string(filter);
      }
      row[i] = static_cast<unsigned char>(line[1 + i] + predictor);
    }
    for (std::size_t x = 0; x < image.width; ++x) {
      const unsigned char* p = row.data() + x * channels;
      image.pixels[y * image.width + x] = {p[0], p[1], p[2]};
    }
    previous.swap(row);
  }
  return "";
}

bool near(Rgb a, Rgb b, int tolerance) {
  return std::abs(a.r - b.r) <= tolerance && std::abs(a.g - b.g) <= tolerance &&
         std::abs(a.b - b.b) <= tolerance;
}

struct Region {
  std::size_t left = 0, top = 0, right = 0, bottom = 0;  // inside the frame, exclusive of it
};

std::size_t countColor(const Image& image, const Region& region, Rgb color, int tolerance = 8) {
  std::size_t n = 0;
  for (std::size_t y = region.top; y < region.bottom; ++y) {
    for (std::size_t x = region.left; x < region.right; ++x) {
      if (near(image.at(x, y), color, tolerance)) {
        ++n;
      }
    }
  }
  return n;
}

// The plot areas, found by their frames: rows holding a long run of exactly
// the frame color (nothing else on the page uses it), paired top and bottom.
std::vector<Region> findPlotAreas(const Image& image) {
  const Rgb frame = parseColor(svg::kFrameColor);
  std::vector<std::size_t> rows;
  std::vector<std::pair<std::size_t, std::size_t>> spans;
  for (std::size_t y = 0; y < image.height; ++y) {
    std::size_t first = 0;
    std::size_t last = 0;
    std::size_t n = 0;
    for (std::size_t x = 0; x < image.width; ++x) {
      if (near(image.at(x, y), frame, 0)) {
        first = n == 0 ? x : first;
        last = x;
        ++n;
      }
    }
    if (n >= std::size_t{svg::kPlotWidth} * 9 / 10) {
      rows.push_back(y);
      spans.emplace_back(first, last);
    }
  }
  std::vector<Region> regions;
  for (std::size_t i = 0; i + 1 < rows.size(); i += 2) {
    regions.push_back({spans[i].first + 1, rows[i] + 1, spans[i].second, rows[i + 1]});
  }
  return regions;
}

// Chromium, bounded: in its own process group under coreutils' timeout, and
// that group killed afterwards so no helper process outlives the test.
int runChromium(const std::vector<std::string>& args, const std::string& log) {
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(kTimeout));
  for (const std::string& arg : args) {
    argv.push_back(const_cast<char*>(arg.c_str()));
  }
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETPGROUP);
  posix_spawnattr_setpgroup(&attributes, 0);
  pid_t pid = 0;
  const int spawned = posix_spawn(&pid, kTimeout, &actions, &attributes, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  if (spawned != 0) {
    return -1;
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  // Chromium's helpers may still be winding down: end the group (ESRCH:
  // nothing left); waitForExit() then waits until they are gone.
  ::kill(-pid, SIGKILL);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// Processes whose command line names `marker` (our profile directory).
std::vector<pid_t> processesNaming(const std::string& marker) {
  std::vector<pid_t> found;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", error)) {
    const std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) {
      continue;
    }
    std::ifstream in(entry.path() / "cmdline", std::ios::binary);
    const std::string cmdline((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (cmdline.find(marker) != std::string::npos) {
      found.push_back(static_cast<pid_t>(std::stol(name)));
    }
  }
  return found;
}

// Waits (bounded) until `pid`, not our child, has exited: a pidfd becomes
// readable when its process ends.
void waitForExit(pid_t pid) {
  const int fd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (fd < 0) {
    return;  // already gone
  }
  pollfd entry{fd, POLLIN, 0};
  ::poll(&entry, 1, 10'000);
  ::close(fd);
}

TEST_CASE("html report in headless Chromium: every chart draws its series") {
  if (::access(kChromium, X_OK) != 0) {
    FAIL(kChromium << " is missing: the report's browser test needs Chromium (Debian package "
                      "chromium); run scripts/install-deps");
  }
  const testing::TempDir dir;
  const SimulationResult result = test::reportFixtureWithPredictiveAndBurst(480, 3);
  std::ostringstream html;
  writeHtmlReport(html, result);
  const auto page = dir.write("report.html", html.str());
  const std::string png = (dir.path() / "report.png").string();
  const std::string profile = (dir.path() / "chromium-profile").string();
  const std::string log = (dir.path() / "chromium.log").string();
  // As root (CI containers) Chromium needs --no-sandbox; --disable-gpu and a
  // fixed scale factor make the pixels the SVG's own.
  const int exit = runChromium(
      {"-k", "5", "90", kChromium, "--headless", "--no-sandbox", "--disable-gpu",
       "--hide-scrollbars", "--no-first-run", "--disable-extensions", "--mute-audio",
       "--force-device-scale-factor=1", "--user-data-dir=" + profile, "--screenshot=" + png,
       "--window-size=" + std::to_string(kWindowWidth) + "," + std::to_string(kWindowHeight),
       "file://" + page.string()},
      log);
  std::ifstream logFile(log);
  const std::string output((std::istreambuf_iterator<char>(logFile)), std::istreambuf_iterator<char>());
  // Its output is mostly D-Bus noise (no bus in a container): the end is what matters.
  const std::string shown = "chromium exit " + std::to_string(exit) +
                            (exit == 124 ? " (timed out after 90 s)" : "") + ", output ends:\n" +
                            output.substr(output.size() > 2000 ? output.size() - 2000 : 0);
  INFO(shown);
  REQUIRE(exit == 0);
  for (const pid_t pid : processesNaming(profile)) {
    waitForExit(pid);
  }
  const std::vector<pid_t> left = processesNaming(profile);
  for (const pid_t pid : left) {
    ::kill(pid, SIGKILL);  // not in the group we ended: ours all the same
  }
  CHECK_MESSAGE(left.empty(), left.size() << " chromium processes outlived the run");

  Image image;
  const std::string error = decodePng(png, image);
  REQUIRE_MESSAGE(error.empty(), error);
  CHECK(image.width == kWindowWidth);
  CHECK(image.height == kWindowHeight);

  // Not blank: a good share of the page is not background white.
  std::size_t inked = 0;
  for (const Rgb pixel : image.pixels) {
    if (!near(pixel, {255, 255, 255}, 10)) {
      ++inked;
    }
  }
  CHECK(inked > image.pixels.size() / 20);

  const std::vector<Region> areas = findPlotAreas(image);
  // demand, replicas, latency, limits, Predictive's forecast, the modes: top to bottom
  REQUIRE(areas.size() == 6);
  for (const Region& area : areas) {
    CHECK(area.right - area.left == std::size_t{svg::kPlotWidth});
  }
  // The report's palette (html_chart_parts.h, html_charts.cc): the three
  // policies' colors, demand, SLO, limits.
  const std::array<Rgb, 3> policies = {parseColor("#4e79a7"), parseColor("#f28e2b"),
                                       parseColor("#e15759")};
  const Rgb demand = parseColor("#c9d3df");
  const std::size_t demandArea = (areas[0].right - areas[0].left) * (areas[0].bottom - areas[0].top);
  CHECK(countColor(image, areas[0], demand) > demandArea / 5);
  // The regions are the charts they seem: no demand area in the replicas
  // chart (only the anti-aliased edges of blue lines come near its color).
  CHECK(countColor(image, areas[1], demand) < demandArea / 100);
  for (std::size_t p = 0; p < policies.size(); ++p) {
    CAPTURE(p);
    CHECK(countColor(image, areas[0], policies[p]) > 500);  // ready replicas
    CHECK(countColor(image, areas[1], policies[p]) > 500);  // existing and ready
    CHECK(countColor(image, areas[2], policies[p]) > 500);  // latency p99
    CHECK(countColor(image, areas[3], policies[p]) < 50);   // the limits chart has its own
  }
  CHECK(countColor(image, areas[2], parseColor("#222222"), 24) > 800);  // the SLO line
  for (const char* color : {"#1f78b4", "#e31a1c", "#33a02c", "#ff7f00", "#6a3d9a", "#b15928"}) {
    CAPTURE(color);
    CHECK(countColor(image, areas[3], parseColor(color)) > 1000);  // each kind of limit
  }
  // The forecast chart is policy-0's (Predictive) alone: its published and
  // forecast lines; the modes chart has Predictive's and Burst's bands.
  CHECK(countColor(image, areas[4], policies[0]) > 500);
  CHECK(countColor(image, areas[4], policies[1]) < 50);
  CHECK(countColor(image, areas[4], policies[2]) < 50);
  CHECK(countColor(image, areas[5], parseColor("#17becf")) > 1000);  // forecast raised
  CHECK(countColor(image, areas[5], parseColor("#d62728")) > 300);   // panic
  for (const Rgb policy : policies) {
    CHECK(countColor(image, areas[5], policy) < 50);
  }
}

}  // namespace
}  // namespace kubeai::simulate
