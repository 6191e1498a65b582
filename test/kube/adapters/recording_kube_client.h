#pragma once

// A KubeClient for the status writer's, Event recorder's and leader
// elector's tests: below the adapter boundary (no sockets), it records every
// request whole (method, path, body, content type) and answers through a
// handler the test scripts.

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "kube/client/kube_client.h"

namespace kubeai::testing {

struct RecordedRequest {
  std::string method;
  std::string path;
  std::string body;
  std::string contentType;
  std::chrono::milliseconds timeout{0};
};

class RecordingKubeClient final : public kube::KubeClient {
 public:
  using Handler = std::function<core::Result<kube::KubeResponse>(const RecordedRequest&)>;

  // Empty handler: 200 "{}".
  void setHandler(Handler handler) {
    const std::lock_guard lock(mutex_);
    handler_ = std::move(handler);
  }

  core::Result<kube::KubeResponse> request(std::string_view method, const std::string& path, const std::string& body,
                                           std::string_view contentType,
                                           std::chrono::milliseconds timeout) override {
    RecordedRequest recorded{std::string(method), path, body, std::string(contentType), timeout};
    Handler handler;
    {
      const std::lock_guard lock(mutex_);
      requests_.push_back(recorded);
      handler = handler_;
    }
    changed_.notify_all();
    if (!handler) {
      return kube::KubeResponse{200, "{}"};
    }
    return handler(recorded);  // outside the lock: a handler may block (a hanging server)
  }

  core::Result<long> stream(const std::string& path, const std::function<bool(std::string_view)>& /*onLine*/,
                            std::stop_token /*stop*/, std::chrono::milliseconds /*idleTimeout*/) override {
    std::string message = "stream ";
    message += path;
    message += ": not scripted";
    return core::Error{message};
  }

  [[nodiscard]] std::vector<RecordedRequest> requests() const {
    const std::lock_guard lock(mutex_);
    return requests_;
  }
  [[nodiscard]] std::vector<RecordedRequest> requests(std::string_view method) const {
    const std::lock_guard lock(mutex_);
    std::vector<RecordedRequest> matching;
    for (const RecordedRequest& request : requests_) {
      if (request.method == method) {
        matching.push_back(request);
      }
    }
    return matching;
  }
  void clear() {
    const std::lock_guard lock(mutex_);
    requests_.clear();
  }
  // Waits until `count` requests with this method were made; false after `timeout`.
  bool waitFor(std::string_view method, std::size_t count, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, timeout, [&] {
      std::size_t seen = 0;
      for (const RecordedRequest& request : requests_) {
        seen += request.method == method ? 1U : 0U;
      }
      return seen >= count;
    });
  }

 private:
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<RecordedRequest> requests_;
  Handler handler_;
};

}  // namespace kubeai::testing
