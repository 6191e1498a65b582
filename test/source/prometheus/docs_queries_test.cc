// docs/metrics.md against the code: its table shows the default queries the
// code sends, and every ready-made query in it expands and is valid PromQL
// (checked by Prometheus' own parser, `promtool check rules`).
#include <doctest/doctest.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <memory>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "source/prometheus/query_template.h"
#include "support/temp_dir.h"

namespace kubeai::source::prometheus {
namespace {

template <typename... Parts>
std::string concat(const Parts&... parts) {
  std::string out;
  ((out += parts), ...);
  return out;
}

std::string readDoc() {
  std::ifstream stream(KUBEAI_DOCS_DIR "/metrics.md");
  REQUIRE_MESSAGE(stream, "cannot read " KUBEAI_DOCS_DIR "/metrics.md");
  std::ostringstream text;
  text << stream.rdbuf();
  return text.str();
}

struct DocQuery {
  std::string text;
  bool latency = false;  // ${quantile} is known
};

// `prometheusQuery: '...'` lines of the YAML examples, with the metric block
// they belong to; the full queries quoted in the prose; the --replicas-query example.
std::vector<DocQuery> docQueries(const std::string& doc) {
  std::vector<DocQuery> queries;
  std::istringstream lines(doc);
  std::string line;
  std::string block;
  const std::regex blockKey(R"(^\s*(latency|gpuUtilization|requestQueueDepth):\s*$)");
  const std::regex yamlQuery(R"(^\s*prometheusQuery: '(.*)'\s*$)");
  const std::regex replicasFlag(R"(^--replicas-query '(.*)'\s*$)");
  const std::regex inlineQuery(R"(`((?:avg|sum|max|histogram_quantile|DCGM_FI_DEV_GPU_UTIL)[({][^`]*)`)");
  std::smatch match;
  while (std::getline(lines, line)) {
    if (std::regex_match(line, match, blockKey)) {
      block = match[1];
    } else if (std::regex_match(line, match, yamlQuery)) {
      queries.push_back({match[1], block == "latency"});
    } else if (std::regex_match(line, match, replicasFlag)) {
      queries.push_back({match[1], false});
    }
    for (auto it = std::sregex_iterator(line.begin(), line.end(), inlineQuery); it != std::sregex_iterator(); ++it) {
      const std::string query = (*it)[1];
      if (query.find("${") != std::string::npos && query.find("…") == std::string::npos) {
        queries.push_back({query, query.find("${quantile}") != std::string::npos});
      }
    }
  }
  return queries;
}

std::string run(const std::string& command, int& exitCode) {
  std::array<char, 4096> buffer{};
  std::string output;
  FILE* pipe = ::popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  while (std::fgets(buffer.data(), static_cast<int>(buffer.size()), pipe) != nullptr) {
    output += buffer.data();
  }
  const int status = ::pclose(pipe);
  exitCode = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return output;
}

TEST_CASE("docs/metrics.md shows the default queries the code sends") {
  const std::string doc = readDoc();
  std::vector<std::string> queries = {
      std::string(kDefaultDeploymentReplicasQuery), std::string(kDefaultStatefulSetReplicasQuery),
      std::string(kDefaultDeploymentReadyReplicasQuery), std::string(kDefaultStatefulSetReadyReplicasQuery)};
  for (const std::string_view pods : {kDeploymentPodsRegex, kStatefulSetPodsRegex}) {
    for (const DefaultMetric metric :
         {DefaultMetric::kGpuUtilization, DefaultMetric::kLatency, DefaultMetric::kRequestQueueDepth}) {
      queries.push_back(defaultMetricQuery(metric, pods));
    }
  }
  for (const std::string& query : queries) {
    CAPTURE(query);
    std::string cell = "| `";
    cell += query;
    cell += "` |";
    CHECK(doc.find(cell) != std::string::npos);
  }
  // The pods' regexes, and the alphabet they are written in, as the prose gives them.
  for (const std::string_view text : {kDeploymentPodsRegex, kStatefulSetPodsRegex, kSafeAlphabet}) {
    CAPTURE(text);
    CHECK(doc.find(concat("`", text, "`")) != std::string::npos);
  }
}

TEST_CASE("every query in docs/metrics.md expands and is valid PromQL") {
  const std::string doc = readDoc();
  const std::vector<DocQuery> queries = docQueries(doc);
  // The DCGM, vLLM and Triton examples, the prose ones and --replicas-query.
  REQUIRE(queries.size() >= 12);

  std::string rules = "groups:\n  - name: docs\n    rules:\n";
  for (std::size_t i = 0; i < queries.size(); ++i) {
    CAPTURE(queries[i].text);
    if (queries[i].text.find("${model}") != std::string::npos) {
      // The documented broken query: its documented error, word for word.
      auto refused = expandTemplate(queries[i].text, TemplateValues{"llm", "chat", "p", ""});
      REQUIRE_FALSE(refused.ok());
      CHECK(doc.find("`spec.metrics.gpuUtilization.prometheusQuery: " + refused.error().message + "`") !=
            std::string::npos);
      continue;
    }
    // The engine presets' ${pods} is the target's pods' regex (engine_queries.h).
    std::string text = queries[i].text;
    for (std::size_t at = text.find("${pods}"); at != std::string::npos; at = text.find("${pods}", at)) {
      text.replace(at, 7, kDeploymentPodsRegex);
    }
    auto expanded = expandTemplate(text,
                                   TemplateValues{"llm", "llama-3.1", "chat-policy", queries[i].latency ? "0.99" : ""});
    REQUIRE_MESSAGE(expanded.ok(), (expanded.ok() ? "" : expanded.error().message));
    std::string quoted;  // a YAML single-quoted scalar doubles its quotes
    for (const char c : expanded.value()) {
      quoted += c;
      if (c == '\'') {
        quoted += '\'';
      }
    }
    rules += "      - record: docs_query_" + std::to_string(i) + "\n        expr: '" + quoted + "'\n";
  }

  REQUIRE_MESSAGE(std::string(KUBEAI_PROMTOOL) != "", "promtool not found: run scripts/install-deps");
  testing::TempDir dir;
  const auto file = dir.write("docs-queries.yaml", rules);
  int exitCode = -1;
  const std::string output = run(std::string(KUBEAI_PROMTOOL) + " check rules " + file.string() + " 2>&1", exitCode);
  CAPTURE(rules);
  CAPTURE(output);
  CHECK(exitCode == 0);
}

}  // namespace
}  // namespace kubeai::source::prometheus
