/* queue_first.c: a kubeai-scaler plugin in C (C99 or later). */
#include <stdio.h>

#include <kubeai/scaler_plugin.h>

/* Scales by the request queue's ratio when that metric is present, otherwise
 * by the largest ratio: desired = ceil(max(current, 1) x ratio). */
static int compute(const kubeai_scaling_algorithm* self, const kubeai_scaling_input* input,
                   kubeai_scaling_result* result) {
  char reason[128];
  double ratio = -1.0;
  int32_t base = input->current_replicas > 1 ? input->current_replicas : 1;
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
  /* At zero replicas there is nothing to hold: any load must wake the workload. */
  if (input->current_replicas > 0 && ratio >= 1.0 - input->tolerance && ratio <= 1.0 + input->tolerance) {
    kubeai_result_set_reason(result, "within tolerance"); /* desired is preset to current */
    return KUBEAI_SCALER_OK;
  }

  wanted = base * ratio;
  if (wanted > 1e9) {
    wanted = 1e9; /* stay within int32_t */
  }
  desired = (int32_t)wanted;
  if (desired < wanted) {
    desired += 1; /* ceil without libm */
  }
  result->desired_replicas = desired;
  snprintf(reason, sizeof reason, "scaled on ratio %.2f", ratio);
  kubeai_result_set_reason(result, reason);
  return KUBEAI_SCALER_OK;
}

KUBEAI_SCALER_EXPORT const kubeai_scaling_algorithm Algorithm = {
    KUBEAI_SCALER_ABI_VERSION, (uint32_t)sizeof(kubeai_scaling_algorithm), "QueueFirst", compute, NULL};
