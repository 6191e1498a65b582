// The plugin host against real processes: the kubeai-scaler binary started as
// `plugin-host` for real fixture plugins that work, crash, hang, abort, exit
// and scribble on their socket.
#include "plugin_host/plugin_host.h"

#include <doctest/doctest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "core/algorithm.h"
#include "plugin/plugin_image.h"
#include "plugin/plugin_loader.h"
#include "plugin_host/isolated_plugin_algorithm.h"

namespace host = kubeai::plugin::host;
namespace core = kubeai::core;
using namespace std::chrono_literals;

namespace {

host::PluginHostSettings settings(std::vector<host::PluginFailure>* failures = nullptr) {
  host::PluginHostSettings s;
  s.executable = KUBEAI_SCALER_BIN;
  s.callTimeout = 400ms;
  s.firstBackoff = 20ms;
  s.maxBackoff = 200ms;
  if (failures != nullptr) {
    s.onFailure = [failures](const host::PluginFailure& f) { failures->push_back(f); };
  }
  return s;
}

std::shared_ptr<host::PluginHost> startHost(const char* file, host::PluginHostSettings s = settings()) {
  auto image = kubeai::plugin::readPluginImage(file);
  REQUIRE_MESSAGE(image.ok(), (image.ok() ? "" : image.error().message));
  auto started = host::PluginHost::start(std::move(image).value(), std::move(s));
  REQUIRE_MESSAGE(started.ok(), (started.ok() ? "" : started.error().message));
  return std::move(started).value();
}

// One policy's input with one latency metric at `ratio`.
struct Call {
  core::AlgorithmParameters parameters;
  std::vector<core::MetricRatio> ratios;
  std::vector<core::MetricDetail> metrics;
  core::AlgorithmInput input;

  Call(std::int32_t current, double ratio, const char* name = "chat", core::AlgorithmParameters params = {})
      : parameters(std::move(params)) {
    ratios.push_back(core::MetricRatio{core::MetricSlot::kLatencyP99, ratio});
    core::MetricDetail detail;
    detail.slot = core::MetricSlot::kLatencyP99;
    detail.name = "latencyP99";
    detail.value = 200.0 * ratio;
    detail.unit = "ms";
    detail.target = 200.0;
    detail.targetType = "Value";
    detail.ratio = ratio;
    metrics.push_back(detail);
    input.currentReplicas = current;
    input.minReplicas = 1;
    input.maxReplicas = 50;
    input.ratios = ratios;
    input.tolerance = 0.1;
    input.policyName = name;
    input.policyNamespace = "prod";
    input.parameters = &parameters;
    input.metrics = metrics;
    input.now = core::TimePoint(std::chrono::milliseconds(1'700'000'000'000));
    input.reason = core::CallReason::kCycle;
    input.cycle = 7;
  }
};

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// `call` with a custom metric (spec.metrics.custom[0], slot 4) at `ratio` beside its latency.
void addCustomMetric(Call& call, double ratio) {
  call.ratios.push_back(core::MetricRatio{core::customSlot(0), ratio});
  core::MetricDetail detail;
  detail.slot = core::customSlot(0);
  detail.name = "kvCache";
  detail.value = 80.0 * ratio;
  detail.unit = "percent";
  detail.target = 80.0;
  detail.targetType = "Value";
  detail.ratio = ratio;
  call.metrics.push_back(detail);
  call.input.ratios = call.ratios;
  call.input.metrics = call.metrics;
}

}  // namespace

TEST_CASE("a custom metric reaches a 1.1 plugin by name and slot 4, and never a 1.0 plugin") {
  Call call(2, 0.5);
  addCustomMetric(call, 3.0);  // kvCache 240 % of 80: the largest ratio

  auto probe = startHost(FIXTURE_ABI_1_1_SO);
  auto seen = probe->compute(call.input);
  REQUIRE_MESSAGE(seen.ok(), (seen.ok() ? "" : seen.error().message));
  CHECK_MESSAGE(contains(seen.value().reason, "kvCache:240percent/80percent(Value)"), seen.value().reason);
  CHECK(seen.value().desiredReplicas == 6);  // ceil(2 x 3.0)

  // The 1.0 plugin is MaxRatio over what it sees: the latency alone.
  auto old = startHost(FIXTURE_ABI_1_0_SO);
  auto decided = old->compute(call.input);
  REQUIRE_MESSAGE(decided.ok(), (decided.ok() ? "" : decided.error().message));
  CHECK_MESSAGE(contains(decided.value().reason, "abi 1.0: ratio 0.50"), decided.value().reason);
  CHECK(decided.value().desiredReplicas == 1);

  // Only custom metrics present: a 1.0 plugin is not called, the decision holds.
  Call only(2, 1.0);
  only.ratios.clear();
  only.metrics.clear();
  addCustomMetric(only, 3.0);
  auto held = old->compute(only.input);
  REQUIRE(held.ok());
  CHECK(held.value().held);
  CHECK(held.value().desiredReplicas == 2);
  CHECK_MESSAGE(contains(held.value().reason, "custom metrics reach plugins of ABI 1.1 only"), held.value().reason);
}

TEST_CASE("an isolated plugin decides as it does in process, and its host goes when it does") {
  pid_t pid = -1;
  {
    auto plugin = startHost(FIXTURE_ABI_1_0_SO);
    CHECK(plugin->algorithm() == "Abi10Plugin");
    pid = plugin->pid();
    REQUIRE(pid > 0);
    Call call(4, 1.5);
    auto out = plugin->compute(call.input);
    REQUIRE_MESSAGE(out.ok(), (out.ok() ? "" : out.error().message));
    CHECK(out.value().desiredReplicas == 6);
    CHECK(out.value().reason == "abi 1.0: ratio 1.50 -> 6");
    CHECK_FALSE(plugin->unservableReason());
  }
  // Shut down and reaped: no such process any more.
  CHECK(::kill(pid, 0) == -1);
}

TEST_CASE("a 1.0 plugin built from the previous header decides the same in process and isolated") {
  auto local = kubeai::plugin::loadPlugin(FIXTURE_ABI_1_0_SO);
  REQUIRE_MESSAGE(local.ok(), (local.ok() ? "" : local.error().message));
  auto plugin = startHost(FIXTURE_ABI_1_0_SO);
  int compared = 0;
  for (std::int32_t current : {0, 1, 3, 10, 40}) {
    for (double ratio : {0.0, 0.3, 0.95, 1.0, 1.05, 1.5, 2.0, 7.25}) {
      CAPTURE(current);
      CAPTURE(ratio);
      Call call(current, ratio);
      auto inProcess = local.value()->compute(call.input);
      auto isolated = plugin->compute(call.input);
      REQUIRE(inProcess.ok() == isolated.ok());
      if (inProcess.ok()) {
        CHECK(isolated.value().desiredReplicas == inProcess.value().desiredReplicas);
        CHECK(isolated.value().reason == inProcess.value().reason);
        CHECK(isolated.value().held == inProcess.value().held);
        CHECK(isolated.value().ratio == inProcess.value().ratio);
      }
      ++compared;
    }
  }
  CHECK(compared == 40);
}

TEST_CASE("a load error in the host keeps the loader's wording") {
  auto image = kubeai::plugin::readPluginImage(FIXTURE_NO_SYMBOL_SO);
  REQUIRE(image.ok());
  auto started = host::PluginHost::start(std::move(image).value(), settings());
  REQUIRE_FALSE(started.ok());
  CHECK(started.error().message == std::string("plugin missing Algorithm symbol: ") + FIXTURE_NO_SYMBOL_SO);
}

TEST_CASE("a plugin that crashes fails its calls, restarts with back-off and goes unservable after 3") {
  struct Case {
    const char* file;
    const char* name;
    const char* cause;
    const char* kind;
  };
  const Case cases[] = {
      {FIXTURE_SEGV_SO, "SegvPlugin", "crashed: SIGSEGV", "crashed"},
      {FIXTURE_ABORT_SO, "AbortPlugin", "crashed: SIGABRT", "crashed"},
      {FIXTURE_EXIT3_SO, "ExitPlugin", "exited with code 3", "exited"},
      {FIXTURE_HANG_LOOP_SO, "HangPlugin", "timed out after 400ms (killed)", "timeout"},
      {FIXTURE_GARBAGE_SO, "GarbagePlugin", "broke the plugin-host protocol", "protocol"},
  };
  for (const Case& c : cases) {
    CAPTURE(std::string(c.name));
    std::vector<host::PluginFailure> failures;
    auto plugin = startHost(c.file, settings(&failures));
    Call call(3, 2.0);
    const std::string file = std::filesystem::path(c.file).filename().string();

    auto first = plugin->compute(call.input);
    REQUIRE_FALSE(first.ok());
    CHECK(first.error().reason == "PluginCrashed");
    CHECK_MESSAGE(contains(first.error().message, std::string("plugin ") + c.name + " (" + file + ") " + c.cause),
                  first.error().message);
    REQUIRE(failures.size() == 1);
    CHECK(failures[0].kind == c.kind);
    CHECK(failures[0].restartsHost);
    CHECK_FALSE(plugin->unservableReason());
    CHECK(plugin->pid() == -1);

    // At once: still backing off, fails without starting anything.
    auto second = plugin->compute(call.input);
    REQUIRE_FALSE(second.ok());
    CHECK_MESSAGE(contains(second.error().message, "is not running (" + std::string(c.cause).substr(0, 10)),
                  second.error().message);
    CHECK(failures.back().kind == "down");
    CHECK(plugin->restarts() == 0);

    // Refused calls do not count: one crash is one failure.
    CHECK(failures.back().consecutive == 1);
    CHECK_FALSE(plugin->unservableReason());

    // After each back-off (20 ms, then 40 ms): a new host, which fails the same way.
    std::this_thread::sleep_for(60ms);  // past the back-off, not synchronisation with the host
    REQUIRE_FALSE(plugin->compute(call.input).ok());
    CHECK(plugin->restarts() == 1);
    CHECK_FALSE(plugin->unservableReason());
    std::this_thread::sleep_for(60ms);
    REQUIRE_FALSE(plugin->compute(call.input).ok());
    CHECK(plugin->restarts() == 2);
    CHECK(failures.back().consecutive == 3);
    const auto unservable = plugin->unservableReason();
    REQUIRE(unservable);
    CHECK_MESSAGE(*unservable == std::string("plugin ") + c.name + " (" + file + ") failed 3 or more calls in a row " +
                                     "(last: " + failures.back().cause + ")",
                  *unservable);
  }
}

TEST_CASE("a plugin that crashes only for some policies serves the others once restarted") {
  auto plugin = startHost(FIXTURE_SEGV_ONLY_BAD_SO);
  Call good(3, 1.0, "good");
  Call bad(3, 1.0, "bad-one");
  REQUIRE(plugin->compute(good.input).ok());
  CHECK_FALSE(plugin->compute(bad.input).ok());
  std::this_thread::sleep_for(60ms);  // the back-off
  auto again = plugin->compute(good.input);
  REQUIRE_MESSAGE(again.ok(), (again.ok() ? "" : again.error().message));
  CHECK_FALSE(plugin->unservableReason());  // a success starts the count over
}

TEST_CASE("an ABI 1.1 plugin sees names, values, time, reason, cycle and its state, through the host") {
  auto plugin = startHost(FIXTURE_ABI_1_1_SO);
  CHECK(plugin->algorithm() == "Abi11Probe");
  Call call(3, 1.25);
  auto first = plugin->compute(call.input);
  REQUIRE_MESSAGE(first.ok(), (first.ok() ? "" : first.error().message));
  CHECK_MESSAGE(contains(first.value().reason, "calls=1 reason=cycle cycle=7 now=1700000000000"),
                first.value().reason);
  CHECK_MESSAGE(contains(first.value().reason, "latencyP99:250ms/200ms(Value)"), first.value().reason);
  auto second = plugin->compute(call.input);
  REQUIRE(second.ok());
  CHECK(contains(second.value().reason, "calls=2 "));
  // Another policy has its own slot; a forgotten one starts over.
  Call other(3, 1.25, "other");
  auto otherFirst = plugin->compute(other.input);
  REQUIRE(otherFirst.ok());
  CHECK(contains(otherFirst.value().reason, "calls=1 "));
  plugin->forget("prod", "chat");
  auto afterForget = plugin->compute(call.input);
  REQUIRE(afterForget.ok());
  CHECK(contains(afterForget.value().reason, "calls=1 "));

  core::AlgorithmParameters bad{{"minStep", "abc"}};
  const core::Status refused = plugin->validate(core::ValidateInput{"chat", "prod", &bad, {}});
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().message == "parameter minStep: not a number: abc");
  core::AlgorithmParameters good{{"minStep", "2"}};
  CHECK(plugin->validate(core::ValidateInput{"chat", "prod", &good, {}}).ok());
}

TEST_CASE("the plugin's log lines reach the server's sink") {
  std::vector<std::string> lines;
  auto s = settings();
  s.log = [&lines](const kubeai::plugin::PluginLogLine& line) { lines.emplace_back(line.message); };
  auto plugin = startHost(FIXTURE_ABI_1_1_SO, std::move(s));
  Call call(3, 1.0);
  REQUIRE(plugin->compute(call.input).ok());
  REQUIRE_FALSE(lines.empty());
}

TEST_CASE("a plugin host cannot write the server's memory") {
  REQUIRE(host::protectServerMemory().ok());
  auto plugin = startHost(PARENT_MEMORY_PROBE_SO);
  Call call(2, 1.0);
  auto out = plugin->compute(call.input);
  REQUIRE_MESSAGE(out.ok(), (out.ok() ? "" : out.error().message));
  const std::string& reason = out.value().reason;
  CAPTURE(reason);
  CHECK_FALSE(contains(reason, "ALLOWED"));
  CHECK(contains(reason, "mem=E"));
  CHECK(contains(reason, "vm_writev=E"));
  CHECK(contains(reason, "ptrace=E"));
}

TEST_CASE("IsolatedPluginAlgorithm is the host as a core algorithm") {
  auto image = kubeai::plugin::readPluginImage(FIXTURE_ABI_1_0_SO);
  REQUIRE(image.ok());
  auto loaded = host::loadIsolatedPlugin(std::move(image).value(), settings());
  REQUIRE(loaded.ok());
  CHECK(loaded.value()->name() == "Abi10Plugin");
  Call call(2, 2.0);
  auto out = loaded.value()->compute(call.input);
  REQUIRE(out.ok());
  CHECK(out.value().desiredReplicas == 4);
}

TEST_CASE("a replaced plugin (a new version, a new host) starts every policy's state afresh") {
  Call call(3, 1.0);
  auto first = startHost(FIXTURE_ABI_1_1_SO);
  REQUIRE(first->compute(call.input).ok());
  auto twice = first->compute(call.input);
  REQUIRE(twice.ok());
  CHECK(contains(twice.value().reason, "calls=2 "));
  // What the reloader does on a changed file: load the new image, let the old version go.
  auto second = startHost(FIXTURE_ABI_1_1_SO);
  first.reset();
  auto fresh = second->compute(call.input);
  REQUIRE(fresh.ok());
  CHECK_MESSAGE(contains(fresh.value().reason, "calls=1 "), fresh.value().reason);
}

namespace {

// CPU time of a process so far (user + system), in clock ticks.
unsigned long long cpuTicks(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  std::istringstream fields(text.substr(text.rfind(')') + 2));  // the name may hold spaces
  std::string skipped;
  for (int i = 0; i < 11; ++i) {
    fields >> skipped;  // state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt
  }
  unsigned long long utime = 0;
  unsigned long long stime = 0;
  fields >> utime >> stime;
  return utime + stime;
}

std::vector<std::string> environmentOf(pid_t pid) {
  std::ifstream file("/proc/" + std::to_string(pid) + "/environ");
  std::vector<std::string> out;
  for (std::string entry; std::getline(file, entry, '\0');) {
    out.push_back(entry);
  }
  return out;
}

}  // namespace

TEST_CASE("the spins before blocking change no answer, never outlast a deadline, and stop when calls do") {
  SUBCASE("a spinning host and a blocking one decide the same") {
    host::PluginHostSettings blocking = settings();
    blocking.replySpin = 0us;
    blocking.requestSpin = 0us;
    host::PluginHostSettings spinning = settings();
    spinning.replySpin = 5ms;
    spinning.requestSpin = 5ms;
    auto a = startHost(FIXTURE_ABI_1_1_SO, blocking);
    auto b = startHost(FIXTURE_ABI_1_1_SO, spinning);
    for (const double ratio : {0.3, 1.0, 2.5}) {
      Call call(4, ratio);
      auto x = a->compute(call.input);
      auto y = b->compute(call.input);
      REQUIRE(x.ok());
      REQUIRE(y.ok());
      CHECK(x.value().desiredReplicas == y.value().desiredReplicas);
      CHECK(x.value().reason == y.value().reason);
    }
  }

  SUBCASE("a reply spin longer than the call's deadline ends with the deadline") {
    std::vector<host::PluginFailure> failures;
    host::PluginHostSettings s = settings(&failures);
    s.callTimeout = 100ms;
    s.replySpin = std::chrono::hours(1);
    auto plugin = startHost(FIXTURE_HANG_LOOP_SO, s);
    Call call(3, 2.0);
    const auto before = std::chrono::steady_clock::now();
    auto answer = plugin->compute(call.input);
    const auto took = std::chrono::steady_clock::now() - before;
    REQUIRE_FALSE(answer.ok());
    CHECK_MESSAGE(contains(answer.error().message, "timed out after 100ms (killed)"), answer.error().message);
    CHECK(took < 5s);  // the kill and the reaping included; without the clamp it is an hour
  }

  SUBCASE("the host's spin comes from the settings, clamped, whatever the server's environment says") {
    ::setenv(host::kRequestSpinVariable, "7", 1);
    host::PluginHostSettings s = settings();
    s.requestSpin = std::chrono::hours(1);
    auto plugin = startHost(FIXTURE_ABI_1_1_SO, s);
    ::unsetenv(host::kRequestSpinVariable);
    const std::string prefix = std::string(host::kRequestSpinVariable) + "=";
    std::vector<std::string> spins;
    for (const std::string& entry : environmentOf(plugin->pid())) {
      if (entry.starts_with(prefix)) {
        spins.push_back(entry);
      }
    }
    REQUIRE(spins.size() == 1);
    CHECK(spins[0] == prefix + std::to_string(host::kMaxRequestSpin.count()));
  }

  SUBCASE("with no call in flight neither process spins") {
    auto plugin = startHost(FIXTURE_ABI_1_1_SO);  // the default spins
    Call call(4, 1.5);
    for (int i = 0; i < 100; ++i) {
      REQUIRE(plugin->compute(call.input).ok());
    }
    const unsigned long long hostBefore = cpuTicks(plugin->pid());
    const unsigned long long selfBefore = cpuTicks(::getpid());
    // A measurement, not a synchronisation: 500 ms idle is 50 ticks of a
    // spinning process. At most a tenth of that: the ticks are 10 ms apart,
    // and under ASan with other tests running the test process was seen at 2
    // ticks of 30 (its sanitizer's threads, the last call's accounting).
    std::this_thread::sleep_for(500ms);
    CHECK(cpuTicks(plugin->pid()) - hostBefore <= 5);
    CHECK(cpuTicks(::getpid()) - selfBefore <= 5);
  }
}
