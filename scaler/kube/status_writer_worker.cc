// The status writer's worker thread: pacing, the PATCH requests and their
// retries, Events, and what a gained leadership rewrites. What the
// evaluation thread calls is in status_writer.cc.
#include "kube/status_writer.h"

#include <algorithm>

#include <nlohmann/json.hpp>

namespace kubeai::kube {
namespace {

std::string statusPath(const PolicyReference& ref) {
  std::string path = "/apis/kubeai.io/v1alpha1/namespaces/";
  path += ref.ns;
  path += "/aiinferenceautoscalerpolicies/";
  path += ref.name;
  path += "/status";
  return path;
}

// The server's own words for an error answer, when it sent a Status object.
std::string serverMessage(const KubeResponse& response) {
  const nlohmann::json body = nlohmann::json::parse(response.body, nullptr, false);
  if (body.is_object() && body.contains("message") && body["message"].is_string()) {
    return body["message"].get<std::string>();
  }
  return response.body.substr(0, 200);
}

bool retryable(long status) { return status == 409 || status == 429 || status >= 500; }

}  // namespace

void StatusWriter::pace(const std::stop_token& stop) {
  if (!(options_.maxRequestsPerSecond > 0)) {  // 0 (or NaN): unpaced
    return;
  }
  // A token bucket kept as one time (GCRA): nextRequest_ is when the bucket
  // is next allowed to send; it may lag now by up to maxBurst - 1 gaps, which
  // is the burst saved up while idle. Bounded (one a day at the slowest, a
  // burst of 100,000 at most) so that the time arithmetic cannot overflow.
  const double seconds = std::min(1.0 / options_.maxRequestsPerSecond, 86'400.0);
  const auto gap = std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      std::chrono::duration<double>(seconds));
  const auto start = std::chrono::steady_clock::now();
  nextRequest_ = std::max(nextRequest_, start - gap * (std::clamp(options_.maxBurst, 1, 100'000) - 1));
  if (nextRequest_ > start) {
    std::unique_lock lock(mutex_);
    wake_.wait_until(lock, stop, nextRequest_, [] { return false; });
  }
  nextRequest_ += gap;
}

StatusWriter::WriteResult StatusWriter::write(const PolicyReference& ref, const std::string& body,
                                              const std::stop_token& stop) {
  const std::string path = statusPath(ref);
  const std::string key = keyOf(ref.ns, ref.name);
  std::chrono::milliseconds backoff = options_.retryBackoff;
  std::string lastError;
  for (int attempt = 1; attempt <= std::max(options_.maxAttempts, 1); ++attempt) {
    if (stop.stop_requested() || !mayWrite()) {
      return WriteResult::kRetryLater;  // losing the Lease stops writes at once
    }
    pace(stop);
    // Asked after pacing, just before sending: a write must be answered (or
    // given up) while leadership is still certain, not land after a takeover.
    const std::chrono::milliseconds timeout = writeWindow(options_.requestTimeout);
    if (stop.stop_requested() || timeout.count() <= 0) {
      return WriteResult::kRetryLater;
    }
    // No resourceVersion in the patch: a merge patch without one cannot
    // conflict, and status is ours alone to write.
    auto response = client_.request("PATCH", path, body, "application/merge-patch+json", timeout);
    if (response.ok()) {
      const long status = response.value().status;
      if (status / 100 == 2) {
        return WriteResult::kWritten;
      }
      if (status == 404) {
        return WriteResult::kGone;
      }
      lastError = "PATCH ";
      lastError += path;
      lastError += ": HTTP ";
      lastError += std::to_string(status);
      lastError += ": ";
      lastError += serverMessage(response.value());
      if (!retryable(status)) {
        reportError(key, lastError);
        return WriteResult::kRefused;
      }
    } else {
      lastError = response.error().message;
    }
    if (attempt < options_.maxAttempts) {
      std::unique_lock lock(mutex_);
      wake_.wait_for(lock, stop, backoff, [] { return false; });
      if (stop.stop_requested()) {
        return WriteResult::kRetryLater;
      }
      backoff *= 2;
    }
  }
  std::string message = "status not written after ";
  message += std::to_string(std::max(options_.maxAttempts, 1));
  message += " attempts, trying again at the next evaluation: ";
  message += lastError;
  reportError(key, message);
  return WriteResult::kRetryLater;
}

void StatusWriter::run(const std::stop_token& stop) {
  while (!stop.stop_requested()) {
    const bool leader = mayWrite();
    std::unique_lock lock(mutex_);
    if (leader && !wasLeader_) {
      // The previous leader may have written anything, or not the latest:
      // compare with what the API held as last observed and write what
      // differs; with nothing observed, write the current state once.
      const auto steadyNow = std::chrono::steady_clock::now();
      for (auto& [key, record] : records_) {
        record.written = record.observed;
        record.writtenAt = steadyNow;
        markIfDueLocked(key, record);
      }
    }
    wasLeader_ = leader;
    if (!leader) {
      queuedEvents_.clear();
      wake_.notify_all();  // waitIdle()
      wake_.wait_for(lock, stop, options_.leaderPollInterval, [] { return false; });
      continue;
    }

    if (!queuedEvents_.empty()) {
      QueuedEvent queued = std::move(queuedEvents_.front());
      queuedEvents_.pop_front();
      busy_ = true;
      lock.unlock();
      pace(stop);
      const core::Status recorded = events_.record(queued.ref, queued.event);
      if (!recorded.ok()) {
        reportError(keyOf(queued.ref.ns, queued.ref.name), recorded.error().message);
      }
      lock.lock();
      busy_ = false;
      ++(recorded.ok() ? stats_.events : stats_.eventFailures);
      wake_.notify_all();
      continue;
    }

    if (dirty_.empty()) {
      wake_.wait_for(lock, stop, options_.leaderPollInterval,
                     [&] { return !dirty_.empty() || !queuedEvents_.empty(); });
      continue;
    }

    const std::string key = std::move(dirty_.front());
    dirty_.pop_front();
    const auto found = records_.find(key);
    if (found == records_.end()) {
      continue;  // removed meanwhile
    }
    found->second.queued = false;
    if (!dueLocked(found->second)) {
      // Nothing (left) to write: queued while a write was in flight (nothing
      // written yet, so anything was due) and that write settled it, or
      // queued twice across a removal, or the API's status observed since.
      continue;
    }
    const PolicyReference ref = found->second.ref;
    const PolicyStatus sent = *found->second.built;
    const std::string body = statusMergePatch(sent);
    busy_ = true;
    lock.unlock();

    const WriteResult result = write(ref, body, stop);

    lock.lock();
    busy_ = false;
    wake_.notify_all();
    if (result == WriteResult::kWritten) {
      ++stats_.writes;
    } else if (result != WriteResult::kGone) {
      ++stats_.writeFailures;
    }
    const auto after = records_.find(key);
    if (after == records_.end() || after->second.ref.uid != ref.uid) {
      continue;  // removed, or another object by now
    }
    if (result == WriteResult::kRetryLater) {
      continue;  // stays unwritten: the next evaluation queues it again
    }
    // kGone and kRefused are settled too: a deleted policy's removal
    // follows, and a refused status would be refused again until it changes.
    Record& record = after->second;
    record.written = sent;
    record.writtenAt = std::chrono::steady_clock::now();
    // Built again while this one was in flight: the newer one may be due.
    markIfDueLocked(key, record);
  }
}

}  // namespace kubeai::kube
