/*
 * StepScale: a kubeai-scaler plugin in plain C11, proving the ABI needs no C++.
 *
 * Takes the largest present metric ratio r. Above 1 + tolerance it adds `step`
 * replicas, below 1 - tolerance it removes `step` (never below 0), otherwise it
 * holds; both bounds hold, with the built-ins' 1e-9 slack. Parameter
 * (spec.algorithm.parameters), checked before a policy's first use through
 * validate_parameters (ABI 1.1) and again in compute:
 *
 *   step   replicas added or removed per cycle, a positive integer (default "1")
 *
 * Stateless, hence safe to call from several threads at once.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <kubeai/scaler_plugin.h>

/* Parses a positive int32 (the whole text, decimal); returns 0 when it is not one. */
static int32_t parse_step(const char* text) {
  char* end = NULL;
  long value;
  if (text == NULL || *text < '0' || *text > '9') { /* strtol would accept " +5" and "-5" */
    return 0;
  }
  errno = 0;
  value = strtol(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0' || value <= 0 || value > INT32_MAX) {
    return 0;
  }
  return (int32_t)value;
}

/* The refusal of a bad step, for validate_parameters and compute alike. */
static void format_step_error(char* text, size_t capacity, const char* step_text) {
  snprintf(text, capacity, "parameter step: invalid value \"%.64s\", want a positive integer (e.g. \"2\")", step_text);
}

static int step_validate(const kubeai_scaling_algorithm* self, const kubeai_validate_input* input, char* error,
                         size_t error_capacity) {
  const char* step_text = kubeai_validate_parameter(input, "step");
  char text[200];
  (void)self;
  if (step_text != NULL && parse_step(step_text) == 0) {
    format_step_error(text, sizeof text, step_text);
    kubeai_copy_text(error, error_capacity, text);
    return KUBEAI_SCALER_ERROR;
  }
  return KUBEAI_SCALER_OK;
}

static int step_compute(const kubeai_scaling_algorithm* self, const kubeai_scaling_input* input,
                        kubeai_scaling_result* result) {
  char text[200];
  const char* step_text;
  int32_t step = 1;
  int32_t current;
  double max_ratio = 0.0;
  double tolerance;
  size_t count;
  size_t i;

  (void)self;
  if (input == NULL || result == NULL) {
    return KUBEAI_SCALER_ERROR;
  }

  step_text = kubeai_input_parameter(input, "step");
  if (step_text != NULL) {
    step = parse_step(step_text);
    if (step == 0) {
      format_step_error(text, sizeof text, step_text);
      kubeai_result_set_error(result, text);
      return KUBEAI_SCALER_ERROR;
    }
  }

  /* Read a field only when the host's struct_size covers it (ABI rule). */
  current = KUBEAI_SCALER_HAS_FIELD(kubeai_scaling_input, input, current_replicas) ? input->current_replicas : 0;
  tolerance = KUBEAI_SCALER_HAS_FIELD(kubeai_scaling_input, input, tolerance) ? input->tolerance : 0.0;
  count = KUBEAI_SCALER_HAS_FIELD(kubeai_scaling_input, input, ratio_count) && input->ratios != NULL
              ? input->ratio_count
              : 0;

  if (count == 0) {
    result->desired_replicas = current;
    kubeai_result_set_reason(result, "no metrics available");
    return KUBEAI_SCALER_OK;
  }
  max_ratio = input->ratios[0].ratio;
  for (i = 1; i < count; ++i) {
    if (input->ratios[i].ratio > max_ratio) {
      max_ratio = input->ratios[i].ratio;
    }
  }

  if (current == 0 && max_ratio > 0.0) {
    /* At zero replicas there is nothing to hold: any load wakes the workload. */
    result->desired_replicas = step;
    snprintf(text, sizeof text, "max ratio %.2f at zero replicas: up %d", max_ratio, (int)step);
  } else if (max_ratio > 1.0 + tolerance + 1e-9) {
    result->desired_replicas = current > INT32_MAX - step ? INT32_MAX : current + step;
    snprintf(text, sizeof text, "max ratio %.2f above %.2f: up %d", max_ratio, 1.0 + tolerance, (int)step);
  } else if (max_ratio < 1.0 - tolerance - 1e-9) {
    result->desired_replicas = current > step ? current - step : 0;
    snprintf(text, sizeof text, "max ratio %.2f below %.2f: down %d", max_ratio, 1.0 - tolerance, (int)step);
  } else {
    result->desired_replicas = current;
    snprintf(text, sizeof text, "max ratio %.2f within tolerance", max_ratio);
  }
  /* ABI 1.1 (fields a 1.0 host's result lacks): the ratio it turned on, and
   * whether holding was on purpose. */
  if (KUBEAI_SCALER_HAS_FIELD(kubeai_scaling_result, result, decided_ratio)) {
    result->decided_ratio = max_ratio;
    result->held = result->desired_replicas == current ? 1 : 0;
  }
  kubeai_result_set_reason(result, text);
  return KUBEAI_SCALER_OK;
}

/* Designated initializers: what is not named (destroy_state: no state; any
 * field a later SDK adds) stays NULL. */
KUBEAI_SCALER_EXPORT const kubeai_scaling_algorithm Algorithm = {
    .abi_version = KUBEAI_SCALER_ABI_VERSION,
    .struct_size = (uint32_t)sizeof(kubeai_scaling_algorithm),
    .name = "StepScale",
    .compute = step_compute,
    .validate_parameters = step_validate,
};
