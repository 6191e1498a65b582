#pragma once

// KEDA's side of the ExternalScaler service in the tests: one call each, as
// KEDA makes them, and client streams with their own contexts.

#include <doctest/doctest.h>
#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <memory>
#include <string>

#include "externalscaler.grpc.pb.h"
#include "test_support.h"

namespace kubeai::server::testing {

struct Answer {
  grpc::Status status;
  std::int64_t value = -1;
  double valueFloat = -1.0;
  std::string metricName;
};

inline grpc::Status isActive(TestServer& server, const externalscaler::ScaledObjectRef& ref, bool* result = nullptr) {
  grpc::ClientContext context;
  setDeadline(context);
  externalscaler::IsActiveResponse response;
  auto status = server.stub().IsActive(&context, ref, &response);
  if (result != nullptr) {
    *result = response.result();
  }
  return status;
}

inline grpc::Status metricSpec(TestServer& server, const externalscaler::ScaledObjectRef& ref,
                               externalscaler::GetMetricSpecResponse* out = nullptr) {
  grpc::ClientContext context;
  setDeadline(context);
  externalscaler::GetMetricSpecResponse response;
  auto status = server.stub().GetMetricSpec(&context, ref, &response);
  if (out != nullptr) {
    *out = response;
  }
  return status;
}

inline Answer metrics(TestServer& server, const externalscaler::ScaledObjectRef& ref, const std::string& metricName) {
  grpc::ClientContext context;
  setDeadline(context);
  externalscaler::GetMetricsRequest request;
  *request.mutable_scaledobjectref() = ref;
  request.set_metricname(metricName);
  externalscaler::GetMetricsResponse response;
  Answer answer;
  answer.status = server.stub().GetMetrics(&context, request, &response);
  if (answer.status.ok()) {
    REQUIRE(response.metricvalues_size() == 1);  // KEDA sums every value it gets
    answer.value = response.metricvalues(0).metricvalue();
    answer.valueFloat = response.metricvalues(0).metricvaluefloat();
    answer.metricName = response.metricvalues(0).metricname();
  }
  return answer;
}

// A client stream with its own context (one per stream, as gRPC requires).
template <typename Response>
struct ClientStream {
  std::unique_ptr<grpc::ClientContext> context = std::make_unique<grpc::ClientContext>();
  std::unique_ptr<grpc::ClientReader<Response>> reader;
};

inline ClientStream<externalscaler::IsActiveResponse> openIsActive(TestServer& server,
                                                                   const externalscaler::ScaledObjectRef& ref) {
  ClientStream<externalscaler::IsActiveResponse> stream;
  setDeadline(*stream.context);
  stream.reader = server.stub().StreamIsActive(stream.context.get(), ref);
  return stream;
}

inline ClientStream<externalscaler::GetMetricSpecResponse> openMetricSpec(TestServer& server,
                                                                          const externalscaler::ScaledObjectRef& ref) {
  ClientStream<externalscaler::GetMetricSpecResponse> stream;
  setDeadline(*stream.context);
  stream.reader = server.stub().StreamMetricSpec(stream.context.get(), ref);
  return stream;
}

// Reads one message; false when the stream ended (or the deadline passed).
inline bool readActive(ClientStream<externalscaler::IsActiveResponse>& stream, bool& result) {
  externalscaler::IsActiveResponse response;
  if (!stream.reader->Read(&response)) {
    return false;
  }
  result = response.result();
  return true;
}

}  // namespace kubeai::server::testing
