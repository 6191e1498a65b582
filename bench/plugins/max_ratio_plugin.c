/*
 * MaxRatioPlugin: the built-in MaxRatio again, this time behind the plugin ABI.
 *
 * decision_bench runs the same policy through MaxRatio and through this plugin,
 * so the difference between the two is what the ABI costs: the host's
 * translation of its input into the C structs, the indirect call, and turning
 * the reason buffer back into a std::string. The maths must therefore be
 * exactly MaxRatio's (scaler/core/builtin_algorithms.cc, replica_calculator.cc);
 * decision_bench checks that both decide alike before it measures anything.
 *
 *   r = the largest present ratio
 *   current > 0 and 1 - tolerance <= r <= 1 + tolerance (1e-9 slack)  -> hold
 *   else ceil(max(current, 1) * r), a product within 1e-9 of an integer
 *        counting as that integer, saturated to [0, INT32_MAX]
 *
 * Stateless, hence safe to call from several threads at once.
 */
#include <math.h>
#include <stdint.h>

#include <kubeai/scaler_plugin.h>

static const double kIntegerSlack = 1e-9;

static int within_tolerance(double ratio, double tolerance) {
  const double lower = 1.0 - tolerance;
  const double upper = 1.0 + tolerance;
  return ratio >= lower - kIntegerSlack && ratio <= upper + kIntegerSlack;
}

static int32_t ceil_replicas(double value) {
  const double max = (double)INT32_MAX;
  double nearest;
  if (!(value > 0.0)) { /* also NaN */
    return 0;
  }
  if (value >= max) {
    return INT32_MAX;
  }
  nearest = round(value);
  return (int32_t)(fabs(value - nearest) <= kIntegerSlack ? nearest : ceil(value));
}

static int max_ratio_compute(const kubeai_scaling_algorithm* self, const kubeai_scaling_input* input,
                             kubeai_scaling_result* result) {
  int32_t current;
  double tolerance;
  double max_ratio;
  size_t count;
  size_t i;

  (void)self;
  if (input == NULL || result == NULL) {
    return KUBEAI_SCALER_ERROR;
  }
  /* Read a field only when the host's struct_size covers it (ABI rule). */
  current = KUBEAI_SCALER_HAS_FIELD(kubeai_scaling_input, input, current_replicas) ? input->current_replicas : 0;
  tolerance = KUBEAI_SCALER_HAS_FIELD(kubeai_scaling_input, input, tolerance) ? input->tolerance : 0.0;
  count = KUBEAI_SCALER_HAS_FIELD(kubeai_scaling_input, input, ratio_count) && input->ratios != NULL
              ? input->ratio_count
              : 0;

  if (count == 0) { /* the host never calls without a ratio; hold if one ever does */
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

  if (current > 0 && within_tolerance(max_ratio, tolerance)) {
    result->desired_replicas = current;
    kubeai_result_set_reason(result, "within tolerance");
  } else {
    result->desired_replicas = ceil_replicas((double)(current > 1 ? current : 1) * max_ratio);
    kubeai_result_set_reason(result, "scaled based on max ratio");
  }
  return KUBEAI_SCALER_OK;
}

KUBEAI_SCALER_EXPORT const kubeai_scaling_algorithm Algorithm = {
    .abi_version = KUBEAI_SCALER_ABI_VERSION,
    .struct_size = (uint32_t)sizeof(kubeai_scaling_algorithm),
    .name = "MaxRatioPlugin",
    .compute = max_ratio_compute,
};
