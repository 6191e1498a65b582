/*
 * kubeai-scaler plugin ABI, version 1.0.
 *
 * A plugin is a shared object exporting, with C linkage, one data symbol:
 *
 *     const kubeai_scaling_algorithm Algorithm = { ... };
 *
 * Only plain C crosses this boundary, so a plugin may be written in C, C++,
 * Rust, Zig or anything else that can export a C struct, and need not share the
 * server's compiler or standard library.
 *
 * Compatibility rules (as obs-studio modules and SQLite extensions do it):
 *  - abi_version packs major and minor. The host refuses a plugin of another
 *    major, or of a newer minor than the host knows.
 *  - Structs only ever grow at the end. Each carries its own size; a reader
 *    zero-fills its copy and reads a field only when it lies within that size.
 *  - compute() may be called concurrently from several threads, for the same
 *    and for different policies: guard any state the plugin keeps.
 *  - compute() reports failure through its return value and result->error,
 *    never by unwinding (no C++ exceptions or Rust panics may cross it).
 */
#ifndef KUBEAI_SCALER_PLUGIN_H
#define KUBEAI_SCALER_PLUGIN_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A cast and a null pointer that C++ code built with -Wold-style-cast and
 * -Wzero-as-null-pointer-constant accepts as well. */
#ifdef __cplusplus
#define KUBEAI_SCALER_U32(x) static_cast<uint32_t>(x)
#define KUBEAI_SCALER_NULL nullptr
#else
#define KUBEAI_SCALER_U32(x) ((uint32_t)(x))
#define KUBEAI_SCALER_NULL NULL
#endif

#define KUBEAI_SCALER_ABI_VERSION_MAJOR 1u
#define KUBEAI_SCALER_ABI_VERSION_MINOR 0u
#define KUBEAI_SCALER_MAKE_ABI_VERSION(major, minor) \
  KUBEAI_SCALER_U32((KUBEAI_SCALER_U32(major) << 16) | (KUBEAI_SCALER_U32(minor) & 0xffffu))
#define KUBEAI_SCALER_ABI_VERSION \
  KUBEAI_SCALER_MAKE_ABI_VERSION(KUBEAI_SCALER_ABI_VERSION_MAJOR, KUBEAI_SCALER_ABI_VERSION_MINOR)
#define KUBEAI_SCALER_ABI_MAJOR(version) (KUBEAI_SCALER_U32(version) >> 16)
#define KUBEAI_SCALER_ABI_MINOR(version) (KUBEAI_SCALER_U32(version) & 0xffffu)

/* True when `field` of the struct `*ptr` (of type `type`, which starts with
 * uint32_t struct_size) lies within the size its writer declared, i.e. the
 * writer knew the field. Read a field only when this holds; treat it as zero
 * otherwise. Example: KUBEAI_SCALER_HAS_FIELD(kubeai_scaling_input, input, weights) */
#ifdef __cplusplus
#define KUBEAI_SCALER_HAS_FIELD(type, ptr, field) \
  ((ptr)->struct_size >= offsetof(type, field) + sizeof(type::field))
#else
#define KUBEAI_SCALER_HAS_FIELD(type, ptr, field) \
  ((ptr)->struct_size >= offsetof(type, field) + sizeof(((const type*)0)->field))
#endif

/* The name of the exported symbol the loader looks up. */
#define KUBEAI_SCALER_ALGORITHM_SYMBOL "Algorithm"

/* Metric slots in their fixed order; WeightedRatio's weights index them. */
typedef enum kubeai_metric_slot {
  KUBEAI_SLOT_LATENCY_P99 = 0,
  KUBEAI_SLOT_LATENCY_P95 = 1,
  KUBEAI_SLOT_GPU_UTILIZATION = 2,
  KUBEAI_SLOT_REQUEST_QUEUE_DEPTH = 3
} kubeai_metric_slot;

/* One present metric: its slot and current/target ratio (finite, >= 0). */
typedef struct kubeai_metric_ratio {
  int32_t slot; /* a kubeai_metric_slot */
  double ratio;
} kubeai_metric_ratio;

/* One entry of the policy's spec.algorithm.parameters. */
typedef struct kubeai_parameter {
  const char* key;
  const char* value;
} kubeai_parameter;

/* What the host hands to compute(). Valid only for the duration of the call:
 * copy what you keep (a policy's name, say), never keep the pointers. */
typedef struct kubeai_scaling_input {
  uint32_t struct_size; /* sizeof(kubeai_scaling_input) as the host compiled it */
  int32_t current_replicas;
  int32_t min_replicas;
  int32_t max_replicas;
  const kubeai_metric_ratio* ratios; /* present slots only, in slot order */
  size_t ratio_count;
  double tolerance;
  const char* policy_name;      /* never NULL */
  const char* policy_namespace; /* never NULL */
  const kubeai_parameter* parameters;
  size_t parameter_count;
  const double* weights; /* spec.algorithm.weights as written, may be empty */
  size_t weight_count;
} kubeai_scaling_input;

/* What compute() fills. The host owns both text buffers (a few hundred bytes
 * each, longer text is cut); write NUL-terminated text that fits, e.g. with
 * kubeai_result_set_reason(). Before the call the host sets desired_replicas to
 * the current replicas and both texts to "", so a plugin that holds need only
 * return KUBEAI_SCALER_OK. On success the host uses desired_replicas (must be
 * >= 0; the host applies behaviour and min/max afterwards; at zero current
 * replicas, answer at least 1 under any load, or a scaled-to-zero workload
 * never wakes) and reason (empty becomes "computed by NAME"); on KUBEAI_SCALER_ERROR it uses error and keeps
 * the current replicas. */
typedef struct kubeai_scaling_result {
  uint32_t struct_size; /* sizeof(kubeai_scaling_result) as the host compiled it */
  int32_t desired_replicas;
  char* reason;
  size_t reason_capacity;
  char* error;
  size_t error_capacity;
} kubeai_scaling_result;

/* Marks the exported symbol visible even under -fvisibility=hidden:
 *     KUBEAI_SCALER_EXPORT const kubeai_scaling_algorithm Algorithm = {...};
 * (in C++ also `extern "C"`, which KUBEAI_SCALER_PLUGIN in scaler_plugin.hpp adds). */
#if defined(_WIN32)
#define KUBEAI_SCALER_EXPORT __declspec(dllexport)
#else
#define KUBEAI_SCALER_EXPORT __attribute__((visibility("default")))
#endif

/* compute() return codes; any value other than KUBEAI_SCALER_OK is a failure. */
#define KUBEAI_SCALER_OK 0
#define KUBEAI_SCALER_ERROR 1

struct kubeai_scaling_algorithm;

/* `self` is the plugin's own exported Algorithm object (not a host copy), so
 * compute() can reach self->user_data. Returns KUBEAI_SCALER_OK or an error code. */
typedef int (*kubeai_compute_fn)(const struct kubeai_scaling_algorithm* self,
                                 const kubeai_scaling_input* input,
                                 kubeai_scaling_result* result);

/* The type of the exported `Algorithm` symbol. The host refuses (as "does not
 * implement ScalingAlgorithm") a struct_size smaller than these v1.0 fields, a
 * NULL compute, and a NULL or empty name; it refuses to register a name that a
 * built-in (MaxRatio, AverageRatio, WeightedRatio) or an earlier plugin has. */
typedef struct kubeai_scaling_algorithm {
  uint32_t abi_version; /* KUBEAI_SCALER_ABI_VERSION */
  uint32_t struct_size; /* sizeof(kubeai_scaling_algorithm) */
  const char* name;     /* the name policies use in spec.algorithm.name */
  kubeai_compute_fn compute;
  void* user_data; /* free for the plugin; handed back through `self` */
} kubeai_scaling_algorithm;

/* Copies text into a host buffer, truncating to fit and always terminating. */
static inline void kubeai_copy_text(char* buffer, size_t capacity, const char* text) {
  if (buffer == KUBEAI_SCALER_NULL || capacity == 0) {
    return;
  }
  size_t n = text == KUBEAI_SCALER_NULL ? 0 : strlen(text);
  if (n >= capacity) {
    n = capacity - 1;
  }
  if (n > 0) {
    memcpy(buffer, text, n);
  }
  buffer[n] = '\0';
}

static inline void kubeai_result_set_reason(kubeai_scaling_result* result, const char* reason) {
  kubeai_copy_text(result->reason, result->reason_capacity, reason);
}

static inline void kubeai_result_set_error(kubeai_scaling_result* result, const char* error) {
  kubeai_copy_text(result->error, result->error_capacity, error);
}

/* Looks up a parameter by key; returns NULL when the policy does not set it. */
static inline const char* kubeai_input_parameter(const kubeai_scaling_input* input, const char* key) {
  if (input == KUBEAI_SCALER_NULL || key == KUBEAI_SCALER_NULL ||
      !KUBEAI_SCALER_HAS_FIELD(kubeai_scaling_input, input, parameter_count) ||
      input->parameters == KUBEAI_SCALER_NULL) {
    return KUBEAI_SCALER_NULL;
  }
  for (size_t i = 0; i < input->parameter_count; ++i) {
    const kubeai_parameter* p = &input->parameters[i];
    if (p->key != KUBEAI_SCALER_NULL && strcmp(p->key, key) == 0) {
      return p->value != KUBEAI_SCALER_NULL ? p->value : "";
    }
  }
  return KUBEAI_SCALER_NULL;
}

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* KUBEAI_SCALER_PLUGIN_H */
