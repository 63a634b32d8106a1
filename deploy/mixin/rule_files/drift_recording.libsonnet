// Recording rules shared by the alerts and the Grafana dashboards.
//
// Naming: level:metric:operations, aggregating with `without` so job/instance
// (and any target labels added by relabelling) survive.
local lib = import '../lib.libsonnet';

{
  ruleFiles+:: {
    'drift_recording.yml': {
      groups: [
        {
          name: 'drift-recording',
          rules: [
            // Worst feature of each model, per statistic: the fleet dashboard's drift
            // status and the "which model to look at first" question.
            {
              record: 'model:drift_feature_psi:max',
              expr: 'max without (feature) (drift_feature_psi)',
            },
            {
              record: 'model:drift_feature_jensen_shannon:max',
              expr: 'max without (feature) (drift_feature_jensen_shannon)',
            },
            {
              record: 'model:drift_feature_wasserstein_normalized:max',
              expr: 'max without (feature) (drift_feature_wasserstein_normalized)',
            },

            // Worst feature of each model, per data-quality problem.
            {
              record: 'model:drift_feature_missing_ratio:max',
              expr: 'max without (feature) (drift_feature_missing_ratio)',
            },
            {
              record: 'model:drift_feature_type_mismatch_ratio:max',
              expr: 'max without (feature) (drift_feature_type_mismatch_ratio)',
            },
            {
              record: 'model:drift_feature_unseen_category_ratio:max',
              expr: 'max without (feature) (drift_feature_unseen_category_ratio)',
            },
            {
              record: 'model:drift_feature_out_of_range_ratio:max',
              expr: 'max without (feature) (drift_feature_out_of_range_ratio)',
            },

            // Traffic: prediction records accepted per second (ModelDriftNoTraffic and
            // the fleet traffic panel).
            {
              record: 'model:drift_records:rate5m',
              expr: 'rate(drift_records_total[5m])',
            },

            // Invalid values per second, all reasons together.
            {
              record: 'model:drift_invalid_values:rate5m',
              expr: 'sum without (reason) (rate(drift_invalid_values_total[5m]))',
            },

            // Window fill: 1 means the window just holds the configured minimum; below 1
            // the exporter publishes no drift gauges for the model.
            {
              record: 'model:drift_window_records_per_min_records:ratio',
              expr: 'drift_window_records / drift_window_min_records',
            },
          ],
        },

        // The one meaning of "drifted" (issue 13), and since when it has held. The drift alerts
        // (drift_alerts.yml) fire on these, so the alerts, the dashboards and the sidecar's own
        // drift_feature_drifted flag (same floors by default) agree.
        //
        // <level>:<metric>:drifted keeps the statistic's value and every label of its series (job,
        // instance, model, feature: one sidecar's window; replicas are judged apart) while it is
        //   >= the model's floor (drift_thresholds.yml, overridable per model), and
        //   >= the no-drift critical value the sidecar exports for this window's valid count, one to
        //      one on the same labels, and
        //   the feature was judged (enough valid values), and
        //   this sidecar's window holds its minimum of records (`ignoring (feature)`: the window of
        //   the same job, instance and model, never another replica's).
        //
        // <level>:<metric>:drifted_since is the Unix time from which :drifted has been present at
        // every evaluation: it keeps its own previous value while :drifted is there and restarts at
        // time() when :drifted comes back after a gap (a gap writes a staleness marker, so the
        // self-reference finds nothing). It is what `for:` keeps internally, but as a series the
        // alerts can compare with the window's turnover, and it survives a Prometheus restart shorter
        // than the 5 min lookback. Each :drifted_since follows its :drifted in this group, so it reads
        // this evaluation's :drifted.
        {
          name: 'drift-decisions',
          rules: [
            {
              record: 'feature:drift_feature_psi:drifted',
              expr: |||
                (
                  drift_feature_psi
                    >= on (%(groupLabels)s) group_left ()
                  model:drift_threshold_feature_psi_warning:value
                )
                >= drift_feature_psi_critical
                and (drift_feature_judged == 1)
                and ignoring (feature) (drift_window_records >= drift_window_min_records)
              ||| % $._config,
            },
            {
              record: 'feature:drift_feature_psi:drifted_since',
              expr: |||
                (feature:drift_feature_psi:drifted_since and feature:drift_feature_psi:drifted)
                or (0 * feature:drift_feature_psi:drifted + time())
              |||,
            },

            {
              record: 'feature:drift_feature_jensen_shannon:drifted',
              expr: |||
                (
                  drift_feature_jensen_shannon
                    >= on (%(groupLabels)s) group_left ()
                  model:drift_threshold_feature_jensen_shannon_warning:value
                )
                >= drift_feature_jensen_shannon_critical
                and (drift_feature_judged == 1)
                and ignoring (feature) (drift_window_records >= drift_window_min_records)
              ||| % $._config,
            },
            {
              record: 'feature:drift_feature_jensen_shannon:drifted_since',
              expr: |||
                (
                  feature:drift_feature_jensen_shannon:drifted_since
                  and feature:drift_feature_jensen_shannon:drifted
                )
                or (0 * feature:drift_feature_jensen_shannon:drifted + time())
              |||,
            },

            {
              record: 'feature:drift_feature_wasserstein_normalized:drifted',
              expr: |||
                (
                  drift_feature_wasserstein_normalized
                    >= on (%(groupLabels)s) group_left ()
                  model:drift_threshold_feature_wasserstein_normalized_warning:value
                )
                >= drift_feature_wasserstein_normalized_critical
                and (drift_feature_judged == 1)
                and ignoring (feature) (drift_window_records >= drift_window_min_records)
              ||| % $._config,
            },
            {
              record: 'feature:drift_feature_wasserstein_normalized:drifted_since',
              expr: |||
                (
                  feature:drift_feature_wasserstein_normalized:drifted_since
                  and feature:drift_feature_wasserstein_normalized:drifted
                )
                or (0 * feature:drift_feature_wasserstein_normalized:drifted + time())
              |||,
            },

            // The prediction: same rule with the prediction's gauges (labels job, instance, model).
            {
              record: 'model:drift_prediction_psi:drifted',
              expr: |||
                (
                  drift_prediction_psi
                    >= on (%(groupLabels)s) group_left ()
                  model:drift_threshold_prediction_psi_warning:value
                )
                >= drift_prediction_psi_critical
                and (drift_prediction_judged == 1)
                and (drift_window_records >= drift_window_min_records)
              ||| % $._config,
            },
            {
              record: 'model:drift_prediction_psi:drifted_since',
              expr: |||
                (model:drift_prediction_psi:drifted_since and model:drift_prediction_psi:drifted)
                or (0 * model:drift_prediction_psi:drifted + time())
              |||,
            },

            // Severe prediction drift: the same with the severe floor (the critical threshold).
            {
              record: 'model:drift_prediction_psi:severe',
              expr: |||
                (
                  drift_prediction_psi
                    >= on (%(groupLabels)s) group_left ()
                  model:drift_threshold_prediction_psi_critical:value
                )
                >= drift_prediction_psi_critical
                and (drift_prediction_judged == 1)
                and (drift_window_records >= drift_window_min_records)
              ||| % $._config,
            },
            {
              record: 'model:drift_prediction_psi:severe_since',
              expr: |||
                (model:drift_prediction_psi:severe_since and model:drift_prediction_psi:severe)
                or (0 * model:drift_prediction_psi:severe + time())
              |||,
            },

            // Many features drifted: the share the sidecar flags (by the same rule) above the model's
            // threshold, and at least two of them (one false positive among a handful of features is
            // already 20-33 %; single features have their own alerts).
            {
              record: 'model:drift_features_drifted_ratio:many',
              expr: |||
                (
                  drift_features_drifted_ratio
                    > on (%(groupLabels)s) group_left ()
                  model:drift_threshold_features_drifted_ratio_warning:value
                )
                and (drift_features_drifted > 1)
                and (drift_window_records >= drift_window_min_records)
              ||| % $._config,
            },
            {
              record: 'model:drift_features_drifted_ratio:many_since',
              expr: |||
                (model:drift_features_drifted_ratio:many_since and model:drift_features_drifted_ratio:many)
                or (0 * model:drift_features_drifted_ratio:many + time())
              |||,
            },
          ],
        },

        // Sampling errors of the performance drops (ModelDriftPerformanceDrop,
        // ModelDriftEstimatedPerformanceDrop), per sidecar (job, instance, model). A drop alerts only
        // beyond model:drift_threshold_performance_drop_standard_errors:value of these.
        {
          name: 'drift-performance-errors',
          rules: [
            // Reference accuracy minus live accuracy, both binomial proportions: live p over the n
            // labelled pairs of the window, reference p0 over the reference's m labelled rows
            // (drift_reference_labelled_records):
            //   se = sqrt(p (1 - p) / n + p0 (1 - p0) / m)
            {
              record: 'model:drift_performance_accuracy_drop:stderr',
              expr: |||
                sqrt(
                  drift_performance_accuracy * (1 - drift_performance_accuracy)
                    / drift_labelled_window_records
                  + drift_reference_performance_accuracy * (1 - drift_reference_performance_accuracy)
                    / drift_reference_labelled_records
                )
              |||,
            },
            // RMSE ratio live / reference - 1. For normal errors var(log RMSE) ~= 1 / (2 n), so the
            // ratio R has se ~= R sqrt(1 / (2 n) + 1 / (2 m)); heavy-tailed errors have more, which
            // the margin (drift_thresholds.yml) absorbs.
            {
              record: 'model:drift_performance_rmse_increase_ratio:stderr',
              expr: |||
                drift_performance_rmse / drift_reference_performance_rmse
                * sqrt(0.5 / drift_labelled_window_records + 0.5 / drift_reference_labelled_records)
              |||,
            },
            // Reference accuracy minus the CBPE estimate over the window's n records. The estimate is
            // the mean of c_i = max(q_i, 1 - q_i) (q the calibrated score); var(c) <= a (1 - a) since
            // c^2 <= c, so sqrt(a (1 - a) / n) bounds its sampling error from above, and it is the
            // realised accuracy's own sampling error, NannyML's band for CBPE.
            {
              record: 'model:drift_estimated_accuracy_drop:stderr',
              expr: |||
                sqrt(
                  drift_estimated_accuracy * (1 - drift_estimated_accuracy) / drift_window_records
                  + drift_reference_performance_accuracy * (1 - drift_reference_performance_accuracy)
                    / drift_reference_labelled_records
                )
              |||,
            },
            // Estimated RMSE over the reference's, minus 1 (direct loss estimation, regressors).
            // drift_estimated_rmse_stderr is the realised RMSE's spread around the estimate, the
            // window's sampling error and the reference's per-bin errors together
            // (exporter.stats.loss_estimation); over the reference RMSE it is the ratio's. Like the
            // accuracy's above it bounds the no-change noise of the estimate from above.
            {
              record: 'model:drift_estimated_rmse_increase_ratio:stderr',
              expr: 'drift_estimated_rmse_stderr / drift_reference_performance_rmse',
            },
          ],
        },
      ],
    },
  },
}
