#pragma once

#include <curl/curl.h>

#include <cstddef>
#include <memory>
#include <string>

#include "core/result.h"

// What the libcurl clients (Prometheus, Kubernetes) share: handles that clean
// up after themselves, and the one-time global initialisation.
namespace kubeai::http {

struct EasyDeleter {
  void operator()(CURL* handle) const noexcept { curl_easy_cleanup(handle); }
};
struct MultiDeleter {
  void operator()(CURLM* handle) const noexcept { curl_multi_cleanup(handle); }
};
struct SlistDeleter {
  void operator()(curl_slist* list) const noexcept { curl_slist_free_all(list); }
};
struct UrlDeleter {
  void operator()(CURLU* url) const noexcept { curl_url_cleanup(url); }
};
struct CurlStringDeleter {
  void operator()(char* text) const noexcept { curl_free(text); }
};
using EasyHandle = std::unique_ptr<CURL, EasyDeleter>;
using MultiHandle = std::unique_ptr<CURLM, MultiDeleter>;
using HeaderList = std::unique_ptr<curl_slist, SlistDeleter>;
using UrlHandle = std::unique_ptr<CURLU, UrlDeleter>;
using CurlString = std::unique_ptr<char, CurlStringDeleter>;

// A response body that stops growing at `limit` bytes: the transfer is then
// aborted (CURLE_WRITE_ERROR) and `tooLarge` says why, so that a runaway
// answer cannot take the process's memory.
struct BoundedBody {
  explicit BoundedBody(std::size_t limitBytes) : limit(limitBytes) {}
  std::string data;
  std::size_t limit;
  bool tooLarge = false;
};

// CURLOPT_WRITEFUNCTION for a BoundedBody given as CURLOPT_WRITEDATA. libcurl
// calls it from inside curl_*_perform: it throws nothing.
std::size_t appendToBoundedBody(char* data, std::size_t size, std::size_t count, void* body) noexcept;

// curl_global_init is not thread-safe in every libcurl build: call this
// before the first handle; it initialises once per process.
core::Status initCurlOnce();

}  // namespace kubeai::http
