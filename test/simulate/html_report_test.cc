#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <sstream>
#include <string>
#include <string_view>

#include "report_fixture.h"
#include "simulate/html_report.h"
#include "simulate/svg_chart.h"

namespace kubeai::simulate {
namespace {

std::string render(const SimulationResult& result) {
  std::ostringstream out;
  writeHtmlReport(out, result);
  return out.str();
}

std::size_t count(std::string_view text, std::string_view what) {
  std::size_t n = 0;
  for (std::size_t at = text.find(what); at != std::string_view::npos;
       at = text.find(what, at + what.size())) {
    ++n;
  }
  return n;
}

TEST_CASE("html report: one svg per chart, a table row per policy, a closed page") {
  const std::string html = render(test::reportFixture());
  CHECK(html.rfind("<!DOCTYPE html>", 0) == 0);
  CHECK(html.ends_with("</html>\n"));
  CHECK(count(html, "<svg ") == 4);
  CHECK(count(html, "</svg>") == 4);
  for (const char* id : {"chart-demand", "chart-replicas", "chart-latency", "chart-limits"}) {
    CAPTURE(id);
    CHECK(count(html, std::string("<svg id=\"") + id + "\"") == 1);
  }
  // The body's rows: one per policy, each with its name and algorithm.
  const std::size_t body = html.find("<tbody>");
  const std::size_t bodyEnd = html.find("</tbody>");
  REQUIRE(body != std::string::npos);
  REQUIRE(bodyEnd != std::string::npos);
  const std::string_view rows(html.data() + body, bodyEnd - body);
  CHECK(count(rows, "<tr>") == 3);
  CHECK(rows.find("default/policy-2</td><td class=\"name\">CappedSmoothRatio") != std::string::npos);
  // Summary figures, formatted as stated: GPU-hours 2 decimals, seconds whole.
  CHECK(rows.find("<td>3000</td><td>0.83</td><td>2.08</td>") != std::string::npos);
  CHECK(rows.find("2 times: mean 150, max 180") != std::string::npos);
  // The SLO line, and a legend entry for every kind of limit.
  CHECK(html.find(">SLO 8000 ms</text>") != std::string::npos);
  for (const char* kind : {"minReplicas (", "maxReplicas (", "scaleUpPolicy (", "scaleDownPolicy (",
                           "stabilization (", "cooldown ("}) {
    CAPTURE(kind);
    CHECK(html.find(kind) != std::string::npos);
  }
  CHECK(html.find("other (") == std::string::npos);
  // Self-contained: nothing fetched, nothing run.
  CHECK(html.find("<script") == std::string::npos);
  CHECK(html.find("http://") == html.find("http://www.w3.org/2000/svg"));
  CHECK(html.find("https://") == std::string::npos);
}

TEST_CASE("html report: Predictive's forecast and Burst's panic get their charts and summary columns") {
  const SimulationResult result = test::reportFixtureWithPredictiveAndBurst();
  const std::string html = render(result);
  CHECK(count(html, "<svg ") == 6);
  CHECK(count(html, "<svg id=\"chart-forecast\"") == 1);
  CHECK(count(html, "<svg id=\"chart-modes\"") == 1);
  // The forecast chart is Predictive's alone: its published and forecast
  // lines, and the horizons it forecast over, default then measured.
  const std::size_t forecast = html.find("<h2>Predictive: forecast and published replicas</h2>");
  const std::size_t modes = html.find("<h2>Where the forecast decided, where Burst panicked</h2>");
  REQUIRE(forecast != std::string::npos);
  REQUIRE(modes != std::string::npos);
  REQUIRE(forecast < modes);
  const std::string_view forecastSection(html.data() + forecast, modes - forecast);
  CHECK(forecastSection.find("default/policy-0 60&#8211;120 s (default, then measured)") != std::string::npos);
  CHECK(forecastSection.find("default/policy-0: forecast</li>") != std::string::npos);
  CHECK(forecastSection.find("default/policy-0: published</li>") != std::string::npos);
  CHECK(forecastSection.find("default/policy-1") == std::string::npos);
  // The lanes: Predictive's and Burst's, not the MaxRatio's; the legend
  // counts the steps the fixture marked.
  const std::string_view modesSection(html.data() + modes);
  CHECK(modesSection.find(">default/policy-0</text>") != std::string::npos);
  CHECK(modesSection.find(">default/policy-1</text>") != std::string::npos);
  CHECK(modesSection.find(">default/policy-2</text>") == std::string::npos);
  CHECK(modesSection.find("forecast (" + std::to_string(*result.policies[0].summary.forecastRaised) + " steps)") !=
        std::string::npos);
  // The band is where the forecast raised what is published, not every
  // decided step (the fixture's at maxReplicas are not).
  const auto decided = std::count_if(result.policies[0].timeline.begin(), result.policies[0].timeline.end(),
                                     [](const TimelineRow& row) { return row.forecastDecided.value_or(false); });
  REQUIRE(decided > *result.policies[0].summary.forecastRaised);
  CHECK(modesSection.find("forecast (" + std::to_string(decided) + " steps)") == std::string::npos);
  CHECK(modesSection.find("panic (20 steps)") != std::string::npos);
  CHECK(modesSection.find("default/policy-1: panic from 30m to 32m 30s") != std::string::npos);
  // The summary's columns, with a dash where the algorithm has none.
  CHECK(html.find("<th rowspan=\"2\">forecast raised (decisions)</th>") != std::string::npos);
  CHECK(html.find("<th rowspan=\"2\">panics</th><th rowspan=\"2\">in panic (s)</th>") != std::string::npos);
  CHECK(html.find("<td>" + std::to_string(*result.policies[0].summary.forecastRaised) +
                  "</td><td>&#8212;</td><td>&#8212;</td></tr>") != std::string::npos);
  CHECK(html.find("<td>&#8212;</td><td>2</td><td>300</td></tr>") != std::string::npos);
  // Without either, none of it (the first test's four charts, no columns).
  const std::string plain = render(test::reportFixture());
  CHECK(plain.find("chart-forecast") == std::string::npos);
  CHECK(plain.find("chart-modes") == std::string::npos);
  CHECK(plain.find("forecast raised") == std::string::npos);
  CHECK(plain.find("in panic") == std::string::npos);
}

TEST_CASE("html report: the header says the replicas' model, and an SLO not set is a dash, not 0") {
  SimulationResult result = test::reportFixture();
  result.startupMinSeconds = 120;
  result.startupMaxSeconds = 120;
  result.capacityRequestsPerSecond = 3;
  result.initialReplicas = 2;
  result.sloTimeToFirstTokenP95Ms.reset();
  const std::string html = render(result);
  CHECK(html.find("<p>Replicas: start-up 120 s, 3 requests/s a replica, 2 replicas at the start.</p>") !=
        std::string::npos);
  CHECK(html.find("time to first token p95 not set") != std::string::npos);
  // Each row: latency p99 judged, TTFT p95 not, waiting judged, then any.
  const std::size_t body = html.find("<tbody>");
  REQUIRE(body != std::string::npos);
  const std::string_view rows(html.data() + body, html.find("</tbody>") - body);
  CHECK(count(rows, "<td>45</td><td>&#8212;</td><td>30</td><td>60</td>") == 3);
}

TEST_CASE("html report: an algorithm that was not loaded is said beside the one that ran") {
  SimulationResult result = test::reportFixture();
  result.policies[2].algorithm = "MaxRatio";
  result.policies[2].requestedAlgorithm = "CappedSmoothRatio";
  const std::string html = render(result);
  CHECK(html.find("<td class=\"name\">MaxRatio (CappedSmoothRatio not loaded)</td>") != std::string::npos);
}

TEST_CASE("html report: with a replica's rate the first chart is demand against ready capacity") {
  SimulationResult result = test::reportFixture(60, 2);
  std::ostringstream without;
  writeHtmlReport(without, result);
  CHECK(without.str().find("<h2>Demand and ready replicas</h2>") != std::string::npos);
  result.capacityRequestsPerSecond = 2.5;
  std::ostringstream with;
  writeHtmlReport(with, result);
  const std::string html = with.str();
  CHECK(html.find("<h2>Demand and ready capacity</h2>") != std::string::npos);
  CHECK(html.find("ready replicas &times; 2.50 requests/s") != std::string::npos);
  CHECK(html.find(": ready capacity") != std::string::npos);
  CHECK(html.find("<h2>Demand and ready replicas</h2>") == std::string::npos);
}

TEST_CASE("html report: policy names, algorithms and the workload are escaped") {
  SimulationResult result = test::reportFixture(40, 2);
  result.workload = "a&b";
  result.policies[0].policy = "ns/<script>alert(1)</script>";
  result.policies[1].algorithm = "\"quoted\" 'single'";
  result.policies[1].timeline[3].limitedBy = "<b>new-stage</b>";
  const std::string html = render(result);
  CHECK(html.find("<script>") == std::string::npos);
  CHECK(html.find("ns/&lt;script&gt;alert(1)&lt;/script&gt;") != std::string::npos);
  CHECK(html.find("&quot;quoted&quot; &#39;single&#39;") != std::string::npos);
  CHECK(html.find("a&amp;b") != std::string::npos);
  CHECK(html.find("<b>") == std::string::npos);
  // A stage the report does not know is charted as "other".
  CHECK(html.find("other (1 steps)") != std::string::npos);
}

TEST_CASE("html report: the same input writes the same bytes") {
  const std::string first = render(test::reportFixture());
  const std::string second = render(test::reportFixture());
  CHECK(first == second);
  // And the input shows: a changed value changes the page.
  SimulationResult changed = test::reportFixture();
  changed.policies[1].timeline[200].replicas += 5;
  CHECK(render(changed) != first);
}

TEST_CASE("html report: without timelines it still writes a valid page that says so") {
  SimulationResult result = test::reportFixture(10, 2);
  for (PolicyRun& run : result.policies) {
    run.timeline.clear();
  }
  const std::string html = render(result);
  CHECK(html.rfind("<!DOCTYPE html>", 0) == 0);
  CHECK(html.ends_with("</html>\n"));
  CHECK(count(html, "<svg") == 0);
  CHECK(html.find("id=\"timelines-missing\"") != std::string::npos);
  CHECK(html.find("Timelines are missing") != std::string::npos);
  CHECK(count(html, "<tr><td class=\"name\">") == 2);  // the summary is still there

  SimulationResult none;  // no policy at all, nothing set
  const std::string empty = render(none);
  CHECK(empty.ends_with("</html>\n"));
  CHECK(empty.find("Timelines are missing") != std::string::npos);

  // One policy with a timeline and one without: charts, and a note naming it.
  SimulationResult mixed = test::reportFixture(10, 2);
  mixed.policies[1].timeline.clear();
  const std::string partial = render(mixed);
  CHECK(count(partial, "<svg ") == 4);
  CHECK(partial.find("No timeline for: default/policy-1") != std::string::npos);
}

TEST_CASE("html report: odd values do not break the page") {
  SimulationResult result = test::reportFixture(30, 1);
  result.duration = std::nan("");
  result.interval = 0;
  result.policies[0].timeline[4].demand = std::nan("");
  result.policies[0].timeline[5].latencyP99Ms = std::numeric_limits<double>::infinity();
  result.policies[0].timeline[6].latencyP99Ms.reset();
  result.policies[0].summary.gpuHours = -0.0;
  result.policies[0].summary.peakBacklog = std::nan("");
  const std::string html = render(result);
  CHECK(html.ends_with("</html>\n"));
  CHECK(html.find("nan") == std::string::npos);
  CHECK(html.find("inf") == std::string::npos);
  for (const char* negativeZero : {">-0", "\"-0", " -0"}) {
    CAPTURE(negativeZero);
    CHECK(html.find(negativeZero) == std::string::npos);
  }
  CHECK(html.find("<td>0.00</td>") != std::string::npos);  // -0 GPU-hours
  CHECK(html.find("<td>n/a</td>") != std::string::npos);  // the peak backlog
}

TEST_CASE("html report: 7 days at 15 s for 3 policies stays under 2 MB") {
  const SimulationResult result = test::reportFixture(40'320, 3);
  const std::string html = render(result);
  MESSAGE("report of 3 x 40,320 steps: " << html.size() << " bytes");
  CHECK(html.size() < 2'000'000);
  CHECK(count(html, "<svg ") == 4);
}

TEST_CASE("svg downsample: exact steps up to one per column, then min and max per column") {
  svg::Series series;
  series.stepSeconds = 10;
  for (int i = 0; i < 4; ++i) {
    series.times.push_back(i * 10.0);
  }
  series.values = {1.0, 1.0, 3.0, std::nullopt};
  // 40 s over 40 columns: kept exactly, a step with its vertical, a break at the gap.
  auto points = svg::downsample(series, 40, 40);
  REQUIRE(points.size() == 4);
  CHECK(points[0].x == doctest::Approx(0));  // 1 from 0 ...
  CHECK(points[1].x == doctest::Approx(20));  // ... to 20 (the middle vertex dropped)
  CHECK(points[1].value == 1);
  CHECK(points[2].x == doctest::Approx(20));
  CHECK(points[2].value == 3);
  CHECK(points[3].x == doctest::Approx(30));

  // 1,000 steps into 10 columns: per column its min and max in order of occurrence.
  svg::Series many;
  many.stepSeconds = 1;
  for (int i = 0; i < 1000; ++i) {
    many.times.push_back(i);
    const int inColumn = i % 100;
    many.values.push_back(inColumn == 10 ? 50.0 : inColumn == 70 ? -5.0 : 1.0);
  }
  points = svg::downsample(many, 1000, 10);
  REQUIRE(points.size() == 20);
  for (std::size_t c = 0; c < 10; ++c) {
    CAPTURE(c);
    CHECK(points[2 * c].value == 50);  // the peak came first in each column
    CHECK(points[2 * c + 1].value == -5);
    CHECK(points[2 * c].x == doctest::Approx(static_cast<double>(c) + 0.5));
  }
}

TEST_CASE("svg category runs: merged steps, and the most frequent per column beyond it") {
  // Exact: consecutive steps of one kind are one band.
  auto runs = svg::categoryRuns({0, 15, 30, 45, 60}, {2, 2, -1, 4, 4}, 15, 75, 100);
  REQUIRE(runs.size() == 2);
  CHECK(runs[0].startSeconds == 0);
  CHECK(runs[0].endSeconds == 30);
  CHECK(runs[0].category == 2);
  CHECK(runs[1].startSeconds == 45);
  CHECK(runs[1].endSeconds == 75);
  // 6 steps into 2 columns: column 0 has kind 1 twice and kind 3 once; column
  // 1 one limited step only, which still shows.
  runs = svg::categoryRuns({0, 1, 2, 3, 4, 5}, {1, 3, 1, -1, -1, 5}, 1, 6, 2);
  REQUIRE(runs.size() == 2);
  CHECK(runs[0].category == 1);
  CHECK(runs[0].endSeconds == 3);
  CHECK(runs[1].category == 5);
  CHECK(runs[1].startSeconds == 3);
}

TEST_CASE("svg axes: readable time ticks and fixed number formatting") {
  // One hour: every 10 minutes.
  auto ticks = svg::timeTicks(3600);
  REQUIRE(ticks.size() == 7);
  CHECK(ticks[1].label == "10m");
  CHECK(ticks[6].label == "1h");
  // Seven days: every day.
  ticks = svg::timeTicks(7 * 86400);
  REQUIRE(ticks.size() == 8);
  CHECK(ticks[1].label == "1d");
  CHECK(svg::timeLabel(5400) == "1h 30m");
  CHECK(svg::formatFixed(-0.0001, 2) == "0.00");
  CHECK(svg::formatFixed(1234.5678, 1) == "1234.6");
  CHECK(svg::formatFixed(std::nan(""), 1) == "n/a");
  const auto y = svg::niceTicks(0, 23, 5, false);
  CHECK(y.front() == 0);
  CHECK(y[1] == 5);
  CHECK(y.back() == 25);
  CHECK(svg::niceTicks(0, 2, 5, true)[1] == 1);  // replicas: no half ticks
  CHECK(svg::tickDecimals(svg::niceTicks(0, 0.12, 5, false)) == 2);
}

}  // namespace
}  // namespace kubeai::simulate
