#pragma once

// A scripted KubeClient for the adapters' unit tests: below the adapter
// boundary, no sockets.

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "kube/client/kube_client.h"

namespace kubeai::testing {

class FakeKubeClient final : public kube::KubeClient {
 public:
  // What one stream() call does: its lines, then its result. `hold` keeps the
  // stream open (until stopped) after the lines, as a live watch does.
  struct StreamScript {
    std::vector<std::string> lines;
    core::Result<long> result = 200L;
    bool hold = false;
  };

  // Answers request(); empty: 500 "not scripted".
  std::function<core::Result<kube::KubeResponse>(std::string_view method, const std::string& path)> onRequest;

  core::Result<kube::KubeResponse> request(std::string_view method, const std::string& path, const std::string& /*body*/,
                                           std::string_view /*contentType*/,
                                           std::chrono::milliseconds timeout) override {
    {
      const std::lock_guard lock(mutex_);
      requests_.push_back(std::string(method) + " " + path);
      timeouts_.push_back(timeout);
    }
    changed_.notify_all();
    if (!onRequest) {
      return kube::KubeResponse{500, R"({"kind":"Status","code":500,"message":"not scripted"})"};
    }
    return onRequest(method, path);
  }

  core::Result<long> stream(const std::string& path, const std::function<bool(std::string_view)>& onLine,
                            std::stop_token stop, std::chrono::milliseconds /*idleTimeout*/) override {
    StreamScript script;
    {
      std::unique_lock lock(mutex_);
      streams_.push_back(path);
      changed_.notify_all();
      // Unscripted: a quiet live watch until a script arrives or the watcher stops.
      changed_.wait(lock, stop, [this] { return !scripts_.empty(); });
      if (stop.stop_requested()) {
        return 200L;
      }
      script = std::move(scripts_.front());
      scripts_.pop_front();
    }
    for (const std::string& line : script.lines) {
      if (!onLine(line)) {
        return script.result;
      }
    }
    if (script.hold) {
      std::unique_lock lock(mutex_);
      changed_.wait(lock, stop, [this] { return release_; });
      release_ = false;
    }
    return script.result;
  }

  void addStream(StreamScript script) {
    {
      const std::lock_guard lock(mutex_);
      scripts_.push_back(std::move(script));
    }
    changed_.notify_all();
  }
  // Ends a held stream.
  void releaseStream() {
    {
      const std::lock_guard lock(mutex_);
      release_ = true;
    }
    changed_.notify_all();
  }

  std::vector<std::string> requests() const {
    const std::lock_guard lock(mutex_);
    return requests_;
  }
  std::vector<std::string> streams() const {
    const std::lock_guard lock(mutex_);
    return streams_;
  }
  std::vector<std::chrono::milliseconds> timeouts() const {
    const std::lock_guard lock(mutex_);
    return timeouts_;
  }

 private:
  mutable std::mutex mutex_;
  std::condition_variable_any changed_;
  std::vector<std::string> requests_;
  std::vector<std::chrono::milliseconds> timeouts_;
  std::vector<std::string> streams_;
  std::deque<StreamScript> scripts_;
  bool release_ = false;
};

}  // namespace kubeai::testing
