/*
 * kubeai-scaler plugin ABI, version 1.1.
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
 *  - compute() may be called concurrently from several threads for different
 *    policies; calls for one policy never overlap, so its state slot (1.1)
 *    needs no lock. Guard anything else the plugin shares between policies.
 *  - compute() reports failure through its return value and result->error,
 *    never by unwinding (no C++ exceptions or Rust panics may cross it).
 *  - By default the server runs each plugin file in its own plugin-host
 *    process: a crash or a hang fails that plugin's calls only. Pointers,
 *    state and user_data live in that process.
 *
 * What 1.1 adds (a 1.0 plugin keeps loading and behaving the same): each
 * metric in full (kubeai_metric), the evaluation time, why compute() is called
 * and a cycle number, a per-policy state slot with a destroy callback, a host
 * logger, an optional validate_parameters() entry point, and a result that may
 * say it held on purpose and which ratio it decided on.
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
#define KUBEAI_SCALER_ABI_VERSION_MINOR 1u
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

/* ABI 1.1: a policy's custom metrics (spec.metrics.custom[i]) follow as slot
 * KUBEAI_SLOT_CUSTOM_FIRST + i, below KUBEAI_SLOT_COUNT_MAX; find them by name
 * (kubeai_metric.name, kubeai_input_metric_named), not by number. A 1.0
 * plugin never sees a slot past KUBEAI_SLOT_REQUEST_QUEUE_DEPTH. Macros, not
 * enumerators: a switch over kubeai_metric_slot stays complete. */
#define KUBEAI_SLOT_CUSTOM_FIRST 4
#define KUBEAI_SLOT_COUNT_MAX 20

/* One present metric: its slot and current/target ratio (finite, >= 0). */
typedef struct kubeai_metric_ratio {
  int32_t slot; /* a kubeai_metric_slot */
  double ratio;
} kubeai_metric_ratio;

/* ABI 1.1: one present metric in full. This struct never grows (a later ABI
 * would add another array), so index the array as usual. */
typedef struct kubeai_metric {
  int32_t slot;            /* a kubeai_metric_slot; custom metrics from KUBEAI_SLOT_CUSTOM_FIRST */
  const char* name;        /* "latencyP99", "latencyP95", "gpuUtilization", "requestQueueDepth",
                              or a custom metric's spec.metrics.custom[].name ("kvCache") */
  double value;            /* as read: ms, percent, or requests in the queue (all replicas);
                              a custom metric's in its unit (for AverageValue: the total) */
  const char* unit;        /* "ms", "percent", "requests"; "" for a query of the policy's own */
  double target;           /* the policy's target, in the same unit */
  const char* target_type; /* "Value" (latency, custom), "Utilization" (GPU), "AverageValue" (queue,
                              custom: per replica, ratio = value / (target x max(current, 1))) */
  double ratio;            /* what ratios[] holds for this slot */
} kubeai_metric;

/* ABI 1.1: why compute() is called. */
typedef enum kubeai_call_reason {
  KUBEAI_CALL_CYCLE = 0,     /* serve's timed cycle (every --interval) */
  KUBEAI_CALL_TRIGGERED = 1, /* serve re-evaluating at once: a policy, the metrics or a plugin changed */
  KUBEAI_CALL_EVALUATE = 2,  /* the evaluate command: one decision, nothing kept */
  KUBEAI_CALL_SIMULATE = 3   /* the simulate command: simulated time */
} kubeai_call_reason;

/* ABI 1.1: log levels of kubeai_host.log. */
typedef enum kubeai_log_level {
  KUBEAI_LOG_DEBUG = 0,
  KUBEAI_LOG_INFO = 1,
  KUBEAI_LOG_WARN = 2,
  KUBEAI_LOG_ERROR = 3
} kubeai_log_level;

/* ABI 1.1: what the host offers a plugin during compute(). */
typedef struct kubeai_host {
  uint32_t struct_size;
  void* context; /* the host's, pass it back unchanged */
  /* One line in the server's structured log, with plugin and policy fields
   * added. At most 16 lines of 1 KiB per call are kept; more are counted. */
  void (*log)(void* context, int32_t level, const char* message);
} kubeai_host;

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
  const double* weights; /* spec.algorithm.weights as written, may be empty; with custom metrics,
                            one weight per slot (the seed four's, missing ones 1.0, then each
                            custom metric's own weight) */
  size_t weight_count;
  /* ABI 1.1 (check with KUBEAI_SCALER_HAS_FIELD before reading): */
  const kubeai_metric* metrics; /* present metrics, in slot order, one per ratio */
  size_t metric_count;
  int64_t now_unix_ms;  /* the evaluation time: simulated time under simulate */
  int32_t call_reason;  /* a kubeai_call_reason */
  uint64_t cycle;       /* serve's cycle number (from 1), simulate's step, 0 under evaluate */
  /* This policy's state slot, *state NULL at first. Store what you keep
   * between calls; the host hands the same slot back on the policy's next call
   * and calls Algorithm.destroy_state on it when the policy is deleted, moves
   * to another algorithm, or this plugin is unloaded or replaced (hot reload
   * and a restarted plugin host start from NULL). Offered only to a plugin
   * that sets destroy_state (state itself is NULL otherwise): a slot nobody
   * can free would leak. */
  void** state;
  const kubeai_host* host; /* never NULL */
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
  /* ABI 1.1 (check with KUBEAI_SCALER_HAS_FIELD before writing): */
  /* 1: the current replicas are kept on purpose (within tolerance, say), so
   * a change of ours still on its way to the workload is kept too; 0: the
   * answer is a computed number. The host sets -1 before the call: left so,
   * desired == current counts as a hold, as under 1.0. */
  int32_t held;
  /* The ratio the decision turned on, shown in status and by evaluate; the
   * host sets NaN before the call ("none"). */
  double decided_ratio;
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

/* ABI 1.1: what validate_parameters() checks, before a policy's first use. */
typedef struct kubeai_validate_input {
  uint32_t struct_size;
  const char* policy_name;      /* never NULL */
  const char* policy_namespace; /* never NULL */
  const kubeai_parameter* parameters;
  size_t parameter_count;
  const double* weights;
  size_t weight_count;
} kubeai_validate_input;

/* Returns KUBEAI_SCALER_OK when the parameters are fine; otherwise writes why
 * into `error` (NUL-terminated, cut to fit) and returns KUBEAI_SCALER_ERROR:
 * the policy is then refused where policies are checked (validate, evaluate,
 * serve), e.g. "parameter minStep: not a number: abc". */
typedef int (*kubeai_validate_fn)(const struct kubeai_scaling_algorithm* self, const kubeai_validate_input* input,
                                  char* error, size_t error_capacity);

/* Frees what compute() stored in a policy's state slot (never called with NULL). */
typedef void (*kubeai_destroy_state_fn)(const struct kubeai_scaling_algorithm* self, void* state);

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
  /* ABI 1.1, both optional (NULL): */
  kubeai_validate_fn validate_parameters;
  kubeai_destroy_state_fn destroy_state;
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

/* ABI 1.1: one line in the server's log (a no-op on a 1.0 host). */
static inline void kubeai_log(const kubeai_scaling_input* input, int32_t level, const char* message) {
  if (input == KUBEAI_SCALER_NULL || !KUBEAI_SCALER_HAS_FIELD(kubeai_scaling_input, input, host) ||
      input->host == KUBEAI_SCALER_NULL || input->host->log == KUBEAI_SCALER_NULL || message == KUBEAI_SCALER_NULL) {
    return;
  }
  input->host->log(input->host->context, level, message);
}

/* ABI 1.1: the metric of a slot, or NULL when it is not present (or the host is 1.0). */
static inline const kubeai_metric* kubeai_input_metric(const kubeai_scaling_input* input, int32_t slot) {
  if (input == KUBEAI_SCALER_NULL || !KUBEAI_SCALER_HAS_FIELD(kubeai_scaling_input, input, metric_count) ||
      input->metrics == KUBEAI_SCALER_NULL) {
    return KUBEAI_SCALER_NULL;
  }
  for (size_t i = 0; i < input->metric_count; ++i) {
    if (input->metrics[i].slot == slot) {
      return &input->metrics[i];
    }
  }
  return KUBEAI_SCALER_NULL;
}

/* ABI 1.1: the metric named `name` ("kvCache", "latencyP99"), or NULL when it is not present. */
static inline const kubeai_metric* kubeai_input_metric_named(const kubeai_scaling_input* input, const char* name) {
  if (input == KUBEAI_SCALER_NULL || name == KUBEAI_SCALER_NULL ||
      !KUBEAI_SCALER_HAS_FIELD(kubeai_scaling_input, input, metric_count) || input->metrics == KUBEAI_SCALER_NULL) {
    return KUBEAI_SCALER_NULL;
  }
  for (size_t i = 0; i < input->metric_count; ++i) {
    if (input->metrics[i].name != KUBEAI_SCALER_NULL && strcmp(input->metrics[i].name, name) == 0) {
      return &input->metrics[i];
    }
  }
  return KUBEAI_SCALER_NULL;
}

/* ABI 1.1: a parameter of a validate_parameters() input, or NULL. */
static inline const char* kubeai_validate_parameter(const kubeai_validate_input* input, const char* key) {
  if (input == KUBEAI_SCALER_NULL || key == KUBEAI_SCALER_NULL || input->parameters == KUBEAI_SCALER_NULL) {
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
