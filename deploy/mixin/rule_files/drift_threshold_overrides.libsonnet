// Per-model threshold overrides.
//
// Add one rule per (model, statistic, severity) you want to differ from the
// defaults in drift_thresholds.yml: the record name is the threshold's name with
// `:override` instead of `:value`, the expression a constant, and the only label
// the model's name. Anything not overridden keeps its default.
//
// Example: model "fraud-v2" has a naturally noisy `amount` feature and a seasonal
// category mix, so it tolerates more PSI before alerting:
//
//      - record: model:drift_threshold_feature_psi_warning:override
//        expr: vector(0.2)
//        labels:
//          model: fraud-v2
//      - record: model:drift_threshold_feature_psi_critical:override
//        expr: vector(0.4)
//        labels:
//          model: fraud-v2
//
// Override warning and critical together: a warning threshold above the critical
// one means the warning never fires on its own. Labels other than `model` would
// break the alerts' one-to-one join on model, so don't add any.
// Check with `promtool check rules` and reload Prometheus (SIGHUP or
// POST /-/reload with --web.enable-lifecycle).
local lib = import '../lib.libsonnet';

{
  ruleFiles+:: {
    'drift_threshold_overrides.yml': {
      groups: [
        {
          name: 'drift-threshold-overrides',
          rules: [],
        },
      ],
    },
  },
}
