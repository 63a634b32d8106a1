// Drift alert thresholds, one recorded series per model, statistic and severity.
//
// Every drift, data-quality and performance alert compares its gauge with a series
// recorded here, e.g. (drift_recording.yml, the one rule of "drifted"):
//
//   drift_feature_psi >= on (cluster, namespace, job, model) group_left ()
//     model:drift_threshold_feature_psi_warning:value
//
// model:drift_threshold_<statistic>_<severity>:value is, for every model the exporter
// reports (every model with a drift_window_records series):
//   - model:drift_threshold_<statistic>_<severity>:override{model="<model>"} when
//     one is recorded (see drift_threshold_overrides.yml), else
//   - the default written in the rule below.
//
// So a per-model change is two lines in drift_threshold_overrides.yml, and a
// fleet-wide change is one number here; no alert rule is edited either way.
// docs/runbook.md#changing-thresholds-per-model explains both.
//
// The thresholds are keyed on the labels of one model of one deployment, `_config.groupLabels`
// (deploy/mixin/config.libsonnet: the deployment labels, job and model; `group by`, not
// `without`), so that the alerts' `on (<groupLabels>) group_left ()` join stays one-to-one on
// the right even when several sidecar replicas report the same model, and two deployments'
// same-named models are never merged (issue 14). An override is keyed on `model` alone
// (`on (model) group_right ()`) and applies to that model in every deployment.
local lib = import '../lib.libsonnet';

{
  ruleFiles+:: {
    'drift_thresholds.yml': {
      groups: [
        {
          name: 'drift-thresholds',
          rules: [
            // Effect-size FLOORS of "drifted" (issue 13): a feature (or the prediction) drifted when its
            // statistic is >= this floor AND >= the no-drift critical value the sidecar exports for
            // this window (drift_feature_<statistic>_critical: the quantile 1 - alpha/k of the statistic
            // under no drift at the window's valid count, family-wise alpha 0.01 over the model's k
            // judged features) AND the feature was judged (drift_feature_judged == 1). The floor says
            // "large enough to matter", the critical value "beyond sampling noise at this n". The three
            // floors are the same shift, about 0.075 reference standard deviations of a normal mean:
            //   PSI ~= d^2                  -> 0.075^2             = 0.0056, rounded to 0.005;
            //   JS (base 2) ~= 0.425 sqrt(PSI) for small shifts      -> 0.03;
            //   W1 / std = d for a mean shift                         -> 0.075.
            // They are the sidecar's defaults too (its drift_feature_drifted flag uses the same rule), so
            // the flag, the report and these alerts agree; keep both in step when tuning. Drift alone is
            // a warning (a ticket): there is no critical floor for features (docs/runbook.md, "What
            // pages and what files a ticket").
            {
              record: 'model:drift_threshold_feature_psi_warning:value',
              expr: |||
                (
                  model:drift_threshold_feature_psi_warning:override
                    * on (model) group_right ()
                  group by (%(groupLabels)s) (drift_window_records)
                )
                or on (%(groupLabels)s)
                0.005 * group by (%(groupLabels)s) (drift_window_records)
              ||| % $._config,
            },
            {
              record: 'model:drift_threshold_feature_jensen_shannon_warning:value',
              expr: |||
                (
                  model:drift_threshold_feature_jensen_shannon_warning:override
                    * on (model) group_right ()
                  group by (%(groupLabels)s) (drift_window_records)
                )
                or on (%(groupLabels)s)
                0.03 * group by (%(groupLabels)s) (drift_window_records)
              ||| % $._config,
            },
            {
              record: 'model:drift_threshold_feature_wasserstein_normalized_warning:value',
              expr: |||
                (
                  model:drift_threshold_feature_wasserstein_normalized_warning:override
                    * on (model) group_right ()
                  group by (%(groupLabels)s) (drift_window_records)
                )
                or on (%(groupLabels)s)
                0.075 * group by (%(groupLabels)s) (drift_window_records)
              ||| % $._config,
            },

            // Share of features the exporter flags as drifted (by the rule above): more than a fifth
            // is a broad shift of the input population.
            {
              record: 'model:drift_threshold_features_drifted_ratio_warning:value',
              expr: |||
                (
                  model:drift_threshold_features_drifted_ratio_warning:override
                    * on (model) group_right ()
                  group by (%(groupLabels)s) (drift_window_records)
                )
                or on (%(groupLabels)s)
                0.2 * group by (%(groupLabels)s) (drift_window_records)
              ||| % $._config,
            },

            // PSI of the model's own output. Warning: the same floor as a feature (drifted at all).
            // Critical (pages, and calls the retraining webhook): a SEVERE floor, PSI 0.1 ~ a 0.3 std
            // shift of the score, still also >= the calibrated critical value: the model's output
            // itself has moved enough to change decisions, which is impact without labels.
            {
              record: 'model:drift_threshold_prediction_psi_warning:value',
              expr: |||
                (
                  model:drift_threshold_prediction_psi_warning:override
                    * on (model) group_right ()
                  group by (%(groupLabels)s) (drift_window_records)
                )
                or on (%(groupLabels)s)
                0.005 * group by (%(groupLabels)s) (drift_window_records)
              ||| % $._config,
            },
            {
              record: 'model:drift_threshold_prediction_psi_critical:value',
              expr: |||
                (
                  model:drift_threshold_prediction_psi_critical:override
                    * on (model) group_right ()
                  group by (%(groupLabels)s) (drift_window_records)
                )
                or on (%(groupLabels)s)
                0.1 * group by (%(groupLabels)s) (drift_window_records)
              ||| % $._config,
            },

            // Missing or NaN share of a feature in the window.
            {
              record: 'model:drift_threshold_feature_missing_ratio_warning:value',
              expr: |||
                (
                  model:drift_threshold_feature_missing_ratio_warning:override
                    * on (model) group_right ()
                  group by (%(groupLabels)s) (drift_window_records)
                )
                or on (%(groupLabels)s)
                0.05 * group by (%(groupLabels)s) (drift_window_records)
              ||| % $._config,
            },
            {
              record: 'model:drift_threshold_feature_missing_ratio_critical:value',
              expr: |||
                (
                  model:drift_threshold_feature_missing_ratio_critical:override
                    * on (model) group_right ()
                  group by (%(groupLabels)s) (drift_window_records)
                )
                or on (%(groupLabels)s)
                0.2 * group by (%(groupLabels)s) (drift_window_records)
              ||| % $._config,
            },

            // Values of the wrong type: a schema break upstream, so the bar is low.
            {
              record: 'model:drift_threshold_feature_type_mismatch_ratio_warning:value',
              expr: |||
                (
                  model:drift_threshold_feature_type_mismatch_ratio_warning:override
                    * on (model) group_right ()
                  group by (%(groupLabels)s) (drift_window_records)
                )
                or on (%(groupLabels)s)
                0.01 * group by (%(groupLabels)s) (drift_window_records)
              ||| % $._config,
            },
            {
              record: 'model:drift_threshold_feature_type_mismatch_ratio_critical:value',
              expr: |||
                (
                  model:drift_threshold_feature_type_mismatch_ratio_critical:override
                    * on (model) group_right ()
                  group by (%(groupLabels)s) (drift_window_records)
                )
                or on (%(groupLabels)s)
                0.05 * group by (%(groupLabels)s) (drift_window_records)
              ||| % $._config,
            },

            // Categories never seen in the reference (categorical features only).
            {
              record: 'model:drift_threshold_feature_unseen_category_ratio_warning:value',
              expr: |||
                (
                  model:drift_threshold_feature_unseen_category_ratio_warning:override
                    * on (model) group_right ()
                  group by (%(groupLabels)s) (drift_window_records)
                )
                or on (%(groupLabels)s)
                0.05 * group by (%(groupLabels)s) (drift_window_records)
              ||| % $._config,
            },
            {
              record: 'model:drift_threshold_feature_unseen_category_ratio_critical:value',
              expr: |||
                (
                  model:drift_threshold_feature_unseen_category_ratio_critical:override
                    * on (model) group_right ()
                  group by (%(groupLabels)s) (drift_window_records)
                )
                or on (%(groupLabels)s)
                0.2 * group by (%(groupLabels)s) (drift_window_records)
              ||| % $._config,
            },

            // Values outside the reference min..max (numeric features only); with a
            // reference of n records about 2/(n+1) of drift-free values land outside.
            {
              record: 'model:drift_threshold_feature_out_of_range_ratio_warning:value',
              expr: |||
                (
                  model:drift_threshold_feature_out_of_range_ratio_warning:override
                    * on (model) group_right ()
                  group by (%(groupLabels)s) (drift_window_records)
                )
                or on (%(groupLabels)s)
                0.05 * group by (%(groupLabels)s) (drift_window_records)
              ||| % $._config,
            },
            {
              record: 'model:drift_threshold_feature_out_of_range_ratio_critical:value',
              expr: |||
                (
                  model:drift_threshold_feature_out_of_range_ratio_critical:override
                    * on (model) group_right ()
                  group by (%(groupLabels)s) (drift_window_records)
                )
                or on (%(groupLabels)s)
                0.2 * group by (%(groupLabels)s) (drift_window_records)
              ||| % $._config,
            },

            // Realised accuracy below the reference's, in accuracy points (ModelDriftPerformanceDrop,
            // classifiers). Over n labelled pairs accuracy a has a standard error of
            // sqrt(a (1 - a) / n): 0.04 at n = 100 (labels.min_labels), 0.013 at 1,000, 0.004 at
            // 10,000 (labels.window_max_labels). 0.05 / 0.1 are 4 / 8 standard errors at 1,000 labels;
            // with fewer labels per window raise labels.min_labels rather than these margins.
            {
              record: 'model:drift_threshold_performance_accuracy_drop_warning:value',
              expr: |||
                (
                  model:drift_threshold_performance_accuracy_drop_warning:override
                    * on (model) group_right ()
                  group by (%(groupLabels)s) (drift_window_records)
                )
                or on (%(groupLabels)s)
                0.05 * group by (%(groupLabels)s) (drift_window_records)
              ||| % $._config,
            },
            {
              record: 'model:drift_threshold_performance_accuracy_drop_critical:value',
              expr: |||
                (
                  model:drift_threshold_performance_accuracy_drop_critical:override
                    * on (model) group_right ()
                  group by (%(groupLabels)s) (drift_window_records)
                )
                or on (%(groupLabels)s)
                0.1 * group by (%(groupLabels)s) (drift_window_records)
              ||| % $._config,
            },

            // Realised RMSE above the reference's, as a fraction of it (ModelDriftPerformanceDrop,
            // regressors): live / reference - 1. RMSE's relative standard error is about
            // 1 / sqrt(2 n) for normal errors (2.2 % at 1,000 labels), so 0.1 / 0.25 are 4.5 / 11 of
            // them there.
            {
              record: 'model:drift_threshold_performance_rmse_increase_ratio_warning:value',
              expr: |||
                (
                  model:drift_threshold_performance_rmse_increase_ratio_warning:override
                    * on (model) group_right ()
                  group by (%(groupLabels)s) (drift_window_records)
                )
                or on (%(groupLabels)s)
                0.1 * group by (%(groupLabels)s) (drift_window_records)
              ||| % $._config,
            },
            {
              record: 'model:drift_threshold_performance_rmse_increase_ratio_critical:value',
              expr: |||
                (
                  model:drift_threshold_performance_rmse_increase_ratio_critical:override
                    * on (model) group_right ()
                  group by (%(groupLabels)s) (drift_window_records)
                )
                or on (%(groupLabels)s)
                0.25 * group by (%(groupLabels)s) (drift_window_records)
              ||| % $._config,
            },

            // Label-free estimated accuracy below the reference's accuracy, in accuracy points
            // (ModelDriftEstimatedPerformanceDrop). Measured on seeded windows of 2,000 records the
            // estimate is within 0.03 of the realised accuracy (mean error 0.007 to 0.011,
            // tests/unit/test_evaluator_performance.py), so 0.05 is a drop, not estimation bias, and
            // 0.1 (critical: pages and calls the retraining webhook) is a large one. Both also need
            // the drop beyond its sampling error (below).
            {
              record: 'model:drift_threshold_estimated_accuracy_drop_warning:value',
              expr: |||
                (
                  model:drift_threshold_estimated_accuracy_drop_warning:override
                    * on (model) group_right ()
                  group by (%(groupLabels)s) (drift_window_records)
                )
                or on (%(groupLabels)s)
                0.05 * group by (%(groupLabels)s) (drift_window_records)
              ||| % $._config,
            },
            {
              record: 'model:drift_threshold_estimated_accuracy_drop_critical:value',
              expr: |||
                (
                  model:drift_threshold_estimated_accuracy_drop_critical:override
                    * on (model) group_right ()
                  group by (%(groupLabels)s) (drift_window_records)
                )
                or on (%(groupLabels)s)
                0.1 * group by (%(groupLabels)s) (drift_window_records)
              ||| % $._config,
            },

            // Label-free estimated RMSE above the reference's, as a fraction of it
            // (ModelDriftEstimatedPerformanceDrop, regressors): drift_estimated_rmse / reference - 1.
            // The realised RMSE's margins. Direct loss estimation extrapolates the outer prediction
            // bins' errors beyond the reference's range, so it understates a rise rather than
            // inventing one (docs/ground-truth.md: on the seeded shift it shows a third to a half of
            // the realised rise); a rise past these margins is a real one.
            {
              record: 'model:drift_threshold_estimated_rmse_increase_ratio_warning:value',
              expr: |||
                (
                  model:drift_threshold_estimated_rmse_increase_ratio_warning:override
                    * on (model) group_right ()
                  group by (%(groupLabels)s) (drift_window_records)
                )
                or on (%(groupLabels)s)
                0.1 * group by (%(groupLabels)s) (drift_window_records)
              ||| % $._config,
            },
            {
              record: 'model:drift_threshold_estimated_rmse_increase_ratio_critical:value',
              expr: |||
                (
                  model:drift_threshold_estimated_rmse_increase_ratio_critical:override
                    * on (model) group_right ()
                  group by (%(groupLabels)s) (drift_window_records)
                )
                or on (%(groupLabels)s)
                0.25 * group by (%(groupLabels)s) (drift_window_records)
              ||| % $._config,
            },

            // How many standard errors a performance drop (realised or estimated) must exceed on top
            // of its margin above: 3, the width of NannyML's sampling-error bands; one-sided, a
            // no-change window crosses it with probability 0.0013 per evaluation. The standard errors
            // are recorded in drift_recording.yml (model:drift_performance_*:stderr).
            {
              record: 'model:drift_threshold_performance_drop_standard_errors:value',
              expr: |||
                (
                  model:drift_threshold_performance_drop_standard_errors:override
                    * on (model) group_right ()
                  group by (%(groupLabels)s) (drift_window_records)
                )
                or on (%(groupLabels)s)
                3 * group by (%(groupLabels)s) (drift_window_records)
              ||| % $._config,
            },
          ],
        },
      ],
    },
  },
}
