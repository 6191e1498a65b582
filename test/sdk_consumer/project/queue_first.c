/* queue_first.c: a kubeai-scaler plugin in C (C99 or later). */
#include <stdio.h>

#include <kubeai/scaler_plugin.h>

/* Scales by the request queue's ratio when that metric is present, otherwise
 * by the largest ratio: desired = ceil(max(current, 1) x ratio), rounded as the
 * built-ins do (a product within 1e-9 of an integer is that integer). */
static int compute(const kubeai_scaling_algorithm* self, const kubeai_scaling_input* input,
                   kubeai_scaling_result* result) {
  char reason[128];
  double ratio = -1.0;
  int32_t base = input->current_replicas > 1 ? input->current_replicas : 1;
  int v11 = KUBEAI_SCALER_HAS_FIELD(kubeai_scaling_result, result, decided_ratio); /* and held before it */
  int32_t desired;
  double wanted;
  size_t i;

  (void)self;
  for (i = 0; i < input->ratio_count; ++i) {
    if (input->ratios[i].slot == KUBEAI_SLOT_REQUEST_QUEUE_DEPTH) {
      ratio = input->ratios[i].ratio;
      break;
    }
    if (input->ratios[i].ratio > ratio) {
      ratio = input->ratios[i].ratio;
    }
  }
  if (ratio < 0.0) {
    kubeai_result_set_error(result, "no metric ratio to scale on");
    return KUBEAI_SCALER_ERROR;
  }
  if (v11) {
    result->decided_ratio = ratio; /* shown in status and by evaluate */
  }
  /* At zero replicas there is nothing to hold: any load must wake the workload. */
  if (input->current_replicas > 0 && ratio >= 1.0 - input->tolerance - 1e-9 &&
      ratio <= 1.0 + input->tolerance + 1e-9) {
    if (v11) {
      result->held = 1; /* on purpose: desired is preset to current */
    }
    kubeai_result_set_reason(result, "within tolerance");
    return KUBEAI_SCALER_OK;
  }

  wanted = base * ratio;
  if (wanted > 1e9) {
    wanted = 1e9; /* stay within int32_t */
  }
  desired = (int32_t)wanted;
  if (wanted - desired > 1e-9) {
    desired += 1; /* ceil without libm */
  }
  result->desired_replicas = desired;
  if (v11) {
    result->held = 0;
  }
  snprintf(reason, sizeof reason, "scaled on ratio %.2f", ratio);
  kubeai_result_set_reason(result, reason);
  return KUBEAI_SCALER_OK;
}

/* Designated initializers: the optional entry points (validate_parameters,
 * destroy_state) and any field a later SDK adds stay NULL. */
KUBEAI_SCALER_EXPORT const kubeai_scaling_algorithm Algorithm = {
    .abi_version = KUBEAI_SCALER_ABI_VERSION,
    .struct_size = (uint32_t)sizeof(kubeai_scaling_algorithm),
    .name = "QueueFirst",
    .compute = compute,
};
