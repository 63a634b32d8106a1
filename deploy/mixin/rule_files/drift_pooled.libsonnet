// Pooled statistics: one model judged over ALL its replicas (issue 14).
//
// A model runs as N replicas, each with a sidecar that sees 1/N of the traffic. Each sidecar
// exports what can be summed (docs/runbook.md, "Pooled design"): its window's valid values per
// reference bin (drift_feature_window_bin_records{bin}), the reference's counts in the same
// bins (drift_feature_reference_bin_records{bin}), the data-quality counts behind its ratios,
// and the standard normal quantile z of its no-drift level (drift_noise_quantile_z). These
// rules sum them `without (instance, pod)`, so job, model, feature and any deployment labels
// (namespace, cluster) survive, and recompute the sidecar's own statistics on the pooled
// window. Every join below is `ignoring (<the finer level's label>)` or one to one on every
// label, so extra target labels never break it; the thresholds, keyed on model alone
// (drift_thresholds.yml), are the one `on (model) group_left ()` join.
//
// ONE replica (model:drift_window_records:count == 1): every :pooled series is that sidecar's
// own gauge (its labels minus instance and pod), so a single sidecar alerts exactly as before,
// with or without pooling.enabled. TWO OR MORE: computed here from the pooling families.
//
// How a pooled statistic is computed, per (job, model, feature, deployment labels):
//   W_b = sum over replicas of the window's count in reference bin b;
//   R_b = the reference's count in bin b, taken from one replica (max), and only where every
//         replica reporting the feature holds the same reference (min == max in every bin, and
//         every replica reports every bin); otherwise no pooled statistic, and
//         model_feature:drift_feature_reference_bins:mismatched (ModelDriftReferenceMismatch)
//         says the replicas hold different references;
//   N = sum_b W_b (the pooled valid count), M = sum_b R_b;
//   MERGING: a bin is sparse when its pooled expected count N R_b / M is under 5 (which
//         includes every bin empty in the reference); all sparse bins of a feature are merged
//         into ONE bin (bin="merged"), the others are kept as they are; B' = bins after merging.
//         Numeric decile bins at N >= 50 expect >= 5 each: nothing merges, and the pooled value
//         equals what one sidecar fed the whole traffic exports. Where something does merge the
//         sidecar's own pooling (exporter.stats.calibration.pool_sparse_bins) differs in three
//         ways: numeric bins are merged into runs of neighbours there (here: all sparse bins into
//         one); categorical sparse bins are merged into the overflow ("other") bin there (here:
//         into a bin of their own, the overflow bin kept apart unless it is itself sparse); and
//         there a merged bin still under 5 expected takes in the smallest other category (here
//         it stays as it is). Only the pooled statistics of such features differ from a
//         whole-traffic sidecar's, by that regrouping of rare bins;
//   PSI  = sum_i (c_i - r_i) ln(c_i / r_i),  r_i = (R_i + 1/2) / (M + B'/2),
//          c_i = (W_i + 1/2) / (N + B'/2)  (exporter.stats.psi(..., pseudo_count=0.5));
//   JS   = sqrt( sum_i [r_i ln(2 r_i / (r_i + c_i)) + c_i ln(2 c_i / (r_i + c_i))] / (2 ln 2) ),
//          clamped to [0, 1] (exporter.stats.jensen_shannon(..., pseudo_count=0.5));
//   chi2 = sum_i (R_i N - W_i M)^2 / (M N (R_i + W_i)) over the merged bins with R_i + W_i > 0,
//          the 2 x B' homogeneity statistic without continuity correction (exporter.stats.chi2),
//          for categorical features only (those with a drift_feature_unseen_category_ratio);
//   critical values: the plain closed forms of exporter.stats.calibration at df = B' - 1,
//          PSI_crit = chi2_q(df) (1/N + 1/M),  JS_crit = sqrt(chi2_q(df) / (8 ln 2) (1/N + 1/M)),
//          without psi_critical's small-count correction (which needs the exact chi-squared
//          quantile at a shifted level; it matters below ~1,000 values, and a pooled window is
//          the sum of the replicas' windows);
//   chi2_q(df) by Wilson-Hilferty from z = max over replicas of drift_noise_quantile_z
//          (the replica judging the most features has the strictest Bonferroni level):
//            chi2_q(df) ~= df (1 - 2 / (9 df) + z sqrt(2 / (9 df)))^3.
//          Against scipy.stats.chi2.isf(1 - q, df) for df 1..60 and q 0.99..0.99999 its relative
//          error is between -0.74 % (df 1, q 0.99) and +11.1 % (df 1, q 0.99999); for df >= 2 it
//          is between +0.02 % and +7.1 %, and for deciles (df 9) between +0.14 % and +1.9 %.
//          Above the exact value everywhere except df 1 at q ~0.99, i.e. a slightly stricter
//          critical value (tests/deploy/test_prometheus_rules.py computes both).
//
// Decisions (*:pooled_drifted): pooled statistic >= max(floor from drift_thresholds.yml, pooled
// critical value), the feature judged on the pooled window (pooled valid count >= the judged
// minimum, drift_feature_min_valid_records, default 5 per reference bin up to 10 bins), and the
// pooled window >= the model's window minimum. *_since as in drift_recording.yml.
//
// Rule order matters: Prometheus evaluates a group's rules in order, and each rule reads what
// the rules above it recorded in this same evaluation.
local lib = import '../lib.libsonnet';

{
  ruleFiles+:: {
    'drift_pooled.yml': {
      groups: [
        {
          name: 'drift-pooled-features',
          rules: [
            // Replicas reporting the model (every sidecar exports drift_window_records while its
            // evaluation succeeds), and the model's pooled window.
            {
              record: 'model:drift_window_records:count',
              expr: 'count without (%(replicaLabelNames)s) (drift_window_records)' % $._config,
            },
            {
              record: 'model_feature:drift_window_records:pooled',
              expr: 'sum without (%(replicaLabelNames)s) (drift_window_records)' % $._config,
            },
            {
              record: 'model:drift_window_min_records:max',
              expr: 'max without (%(replicaLabelNames)s) (drift_window_min_records)' % $._config,
            },
            // New records per 15 min over all replicas: the pooled window's turnover.
            {
              record: 'model:drift_records:pooled_increase15m',
              expr: 'sum without (%(replicaLabelNames)s) (increase(drift_records_total[15m]))' % $._config,
            },
            // The strictest per-feature no-drift level among the replicas, as a normal quantile.
            {
              record: 'model:drift_noise_quantile_z:max',
              expr: 'max without (%(replicaLabelNames)s) (drift_noise_quantile_z)' % $._config,
            },

            // Bins on which the replicas' references disagree: a different count, or a bin that
            // only some replicas report. Present (> 0) only when they disagree.
            {
              record: 'model_feature:drift_feature_reference_bins:mismatched',
              expr: |||
                count without (bin) (
                  (
                    max without (%(replicaLabelNames)s) (drift_feature_reference_bin_records)
                    != min without (%(replicaLabelNames)s) (drift_feature_reference_bin_records)
                  )
                  or
                  (
                    count without (%(replicaLabelNames)s) (drift_feature_reference_bin_records)
                      < ignoring (bin) group_left ()
                    max without (bin) (count without (%(replicaLabelNames)s) (drift_feature_reference_bin_records))
                  )
                )
              ||| % $._config,
            },
            // R_b: one replica's reference counts, where they all agree.
            {
              record: 'model_feature_bin:drift_feature_reference_bin_records:pooled',
              expr: |||
                max without (%(replicaLabelNames)s) (drift_feature_reference_bin_records)
                unless ignoring (bin) model_feature:drift_feature_reference_bins:mismatched
              ||| % $._config,
            },
            // W_b: the pooled window's counts in the same bins.
            {
              record: 'model_feature_bin:drift_feature_window_bin_records:pooled',
              expr: |||
                sum without (%(replicaLabelNames)s) (drift_feature_window_bin_records)
                and model_feature_bin:drift_feature_reference_bin_records:pooled
              ||| % $._config,
            },
            // M and N.
            {
              record: 'model_feature:drift_feature_reference_bin_records:pooled_sum',
              expr: 'sum without (bin) (model_feature_bin:drift_feature_reference_bin_records:pooled)',
            },
            {
              record: 'model_feature:drift_feature_window_bin_records:pooled_sum',
              expr: 'sum without (bin) (model_feature_bin:drift_feature_window_bin_records:pooled)',
            },
            // Expected pooled window count per bin, N R_b / M: under 5 the bin is merged.
            {
              record: 'model_feature_bin:drift_feature_window_bin_records:pooled_expected',
              expr: |||
                model_feature_bin:drift_feature_reference_bin_records:pooled
                  / ignoring (bin) group_left ()
                model_feature:drift_feature_reference_bin_records:pooled_sum
                  * ignoring (bin) group_left ()
                model_feature:drift_feature_window_bin_records:pooled_sum
              |||,
            },
            // The merged histograms: bins expecting >= 5 as they are, the others summed into
            // bin="merged".
            {
              record: 'model_feature_bin:drift_feature_reference_bin_records:pooled_merged',
              expr: |||
                (
                  model_feature_bin:drift_feature_reference_bin_records:pooled
                  and model_feature_bin:drift_feature_window_bin_records:pooled_expected >= 5
                )
                or
                label_replace(
                  sum without (bin) (
                    model_feature_bin:drift_feature_reference_bin_records:pooled
                    and model_feature_bin:drift_feature_window_bin_records:pooled_expected < 5
                  ),
                  "bin", "merged", "bin", ""
                )
              |||,
            },
            {
              record: 'model_feature_bin:drift_feature_window_bin_records:pooled_merged',
              expr: |||
                (
                  model_feature_bin:drift_feature_window_bin_records:pooled
                  and model_feature_bin:drift_feature_window_bin_records:pooled_expected >= 5
                )
                or
                label_replace(
                  sum without (bin) (
                    model_feature_bin:drift_feature_window_bin_records:pooled
                    and model_feature_bin:drift_feature_window_bin_records:pooled_expected < 5
                  ),
                  "bin", "merged", "bin", ""
                )
              |||,
            },
            // B', the bins after merging.
            {
              record: 'model_feature:drift_feature_bins:pooled_merged',
              expr: 'count without (bin) (model_feature_bin:drift_feature_reference_bin_records:pooled_merged)',
            },
            // Proportions with Jeffreys' half count added to every merged bin of both histograms.
            {
              record: 'model_feature_bin:drift_feature_reference_bin_ratio:pooled_jeffreys',
              expr: |||
                (model_feature_bin:drift_feature_reference_bin_records:pooled_merged + 0.5)
                  / ignoring (bin) group_left ()
                (
                  model_feature:drift_feature_reference_bin_records:pooled_sum
                  + 0.5 * model_feature:drift_feature_bins:pooled_merged
                )
              |||,
            },
            {
              record: 'model_feature_bin:drift_feature_window_bin_ratio:pooled_jeffreys',
              expr: |||
                (model_feature_bin:drift_feature_window_bin_records:pooled_merged + 0.5)
                  / ignoring (bin) group_left ()
                (
                  model_feature:drift_feature_window_bin_records:pooled_sum
                  + 0.5 * model_feature:drift_feature_bins:pooled_merged
                )
              |||,
            },

            // The pooled statistics: a single replica's own, else computed on the merged bins.
            {
              record: 'model_feature:drift_feature_psi:pooled',
              expr: |||
                (
                  max without (%(replicaLabelNames)s) (drift_feature_psi)
                  and ignoring (feature) (model:drift_window_records:count == 1)
                )
                or
                (
                  sum without (bin) (
                    (
                      model_feature_bin:drift_feature_window_bin_ratio:pooled_jeffreys
                      - model_feature_bin:drift_feature_reference_bin_ratio:pooled_jeffreys
                    )
                    * ln(
                      model_feature_bin:drift_feature_window_bin_ratio:pooled_jeffreys
                      / model_feature_bin:drift_feature_reference_bin_ratio:pooled_jeffreys
                    )
                  )
                  and ignoring (feature) (model:drift_window_records:count > 1)
                )
              ||| % $._config,
            },
            {
              record: 'model_feature:drift_feature_jensen_shannon:pooled',
              expr: |||
                (
                  max without (%(replicaLabelNames)s) (drift_feature_jensen_shannon)
                  and ignoring (feature) (model:drift_window_records:count == 1)
                )
                or
                (
                  clamp_max(
                    sqrt(
                      clamp_min(
                        sum without (bin) (
                          model_feature_bin:drift_feature_reference_bin_ratio:pooled_jeffreys
                          * ln(
                            2 * model_feature_bin:drift_feature_reference_bin_ratio:pooled_jeffreys
                            / (
                              model_feature_bin:drift_feature_reference_bin_ratio:pooled_jeffreys
                              + model_feature_bin:drift_feature_window_bin_ratio:pooled_jeffreys
                            )
                          )
                          + model_feature_bin:drift_feature_window_bin_ratio:pooled_jeffreys
                          * ln(
                            2 * model_feature_bin:drift_feature_window_bin_ratio:pooled_jeffreys
                            / (
                              model_feature_bin:drift_feature_reference_bin_ratio:pooled_jeffreys
                              + model_feature_bin:drift_feature_window_bin_ratio:pooled_jeffreys
                            )
                          )
                        )
                        / (2 * 0.6931471805599453),
                        0
                      )
                    ),
                    1
                  )
                  and ignoring (feature) (model:drift_window_records:count > 1)
                )
              ||| % $._config,
            },
            {
              record: 'model_feature:drift_feature_chi2_statistic:pooled',
              expr: |||
                (
                  max without (%(replicaLabelNames)s) (drift_feature_chi2_statistic)
                  and ignoring (feature) (model:drift_window_records:count == 1)
                )
                or
                (
                  sum without (bin) (
                    (
                      model_feature_bin:drift_feature_reference_bin_records:pooled_merged
                        * ignoring (bin) group_left ()
                      model_feature:drift_feature_window_bin_records:pooled_sum
                      - model_feature_bin:drift_feature_window_bin_records:pooled_merged
                        * ignoring (bin) group_left ()
                      model_feature:drift_feature_reference_bin_records:pooled_sum
                    ) ^ 2
                    / (
                      (
                        model_feature_bin:drift_feature_reference_bin_records:pooled_merged
                        + model_feature_bin:drift_feature_window_bin_records:pooled_merged
                      ) > 0
                    )
                  )
                  / (
                    model_feature:drift_feature_reference_bin_records:pooled_sum
                    * model_feature:drift_feature_window_bin_records:pooled_sum
                  )
                  and group without (%(replicaLabelNames)s) (drift_feature_unseen_category_ratio)
                  and ignoring (feature) (model:drift_window_records:count > 1)
                )
              ||| % $._config,
            },

            // Pooled valid count N, the judged minimum, and whether the feature is judged.
            {
              record: 'model_feature:drift_feature_valid_records:pooled',
              expr: |||
                (
                  max without (%(replicaLabelNames)s) (drift_feature_valid_records)
                  and ignoring (feature) (model:drift_window_records:count == 1)
                )
                or
                (
                  model_feature:drift_feature_window_bin_records:pooled_sum
                  and ignoring (feature) (model:drift_window_records:count > 1)
                )
              ||| % $._config,
            },
            // drift_feature_min_valid_records comes only from replicas whose own window is full; when
            // none is, the sidecar's default rule: 5 per reference bin, for at most 10 bins.
            {
              record: 'model_feature:drift_feature_min_valid_records:pooled',
              expr: |||
                max without (%(replicaLabelNames)s) (drift_feature_min_valid_records)
                or
                5 * clamp_max(
                  count without (bin) (model_feature_bin:drift_feature_reference_bin_records:pooled), 10
                )
              ||| % $._config,
            },
            {
              record: 'model_feature:drift_feature_judged:pooled',
              expr: |||
                (
                  max without (%(replicaLabelNames)s) (drift_feature_judged)
                  and ignoring (feature) (model:drift_window_records:count == 1)
                )
                or
                (
                  model_feature:drift_feature_valid_records:pooled
                    >= bool
                  model_feature:drift_feature_min_valid_records:pooled
                  and ignoring (feature) (model:drift_window_records:count > 1)
                )
              ||| % $._config,
            },

            // chi2_q(df) at df = B' - 1 >= 1, by Wilson-Hilferty from z (see the header).
            {
              record: 'model_feature:drift_feature_chi2_noise_quantile:pooled',
              expr: |||
                ((model_feature:drift_feature_bins:pooled_merged >= 2) - 1)
                * (
                  1
                  - 2 / (9 * ((model_feature:drift_feature_bins:pooled_merged >= 2) - 1))
                  + sqrt(2 / (9 * ((model_feature:drift_feature_bins:pooled_merged >= 2) - 1)))
                    * ignoring (feature) group_left ()
                  model:drift_noise_quantile_z:max
                ) ^ 3
              |||,
            },
            {
              record: 'model_feature:drift_feature_psi_critical:pooled',
              expr: |||
                (
                  max without (%(replicaLabelNames)s) (drift_feature_psi_critical)
                  and ignoring (feature) (model:drift_window_records:count == 1)
                )
                or
                (
                  model_feature:drift_feature_chi2_noise_quantile:pooled
                  * (
                    1 / model_feature:drift_feature_window_bin_records:pooled_sum
                    + 1 / model_feature:drift_feature_reference_bin_records:pooled_sum
                  )
                  and ignoring (feature) (model:drift_window_records:count > 1)
                )
              ||| % $._config,
            },
            {
              record: 'model_feature:drift_feature_jensen_shannon_critical:pooled',
              expr: |||
                (
                  max without (%(replicaLabelNames)s) (drift_feature_jensen_shannon_critical)
                  and ignoring (feature) (model:drift_window_records:count == 1)
                )
                or
                (
                  sqrt(
                    model_feature:drift_feature_chi2_noise_quantile:pooled
                    / (8 * 0.6931471805599453)
                    * (
                      1 / model_feature:drift_feature_window_bin_records:pooled_sum
                      + 1 / model_feature:drift_feature_reference_bin_records:pooled_sum
                    )
                  )
                  and ignoring (feature) (model:drift_window_records:count > 1)
                )
              ||| % $._config,
            },

            // The decisions: >= max(floor, pooled critical value), judged on the pooled window, and
            // the pooled window holds the model's minimum.
            {
              record: 'model_feature:drift_feature_psi:pooled_drifted',
              expr: |||
                (
                  model_feature:drift_feature_psi:pooled
                    >= on (%(groupLabels)s) group_left ()
                  model:drift_threshold_feature_psi_warning:value
                )
                >= model_feature:drift_feature_psi_critical:pooled
                and (model_feature:drift_feature_judged:pooled == 1)
                and ignoring (feature)
                (model_feature:drift_window_records:pooled >= model:drift_window_min_records:max)
              ||| % $._config,
            },
            {
              record: 'model_feature:drift_feature_psi:pooled_drifted_since',
              expr: |||
                (
                  model_feature:drift_feature_psi:pooled_drifted_since
                  and model_feature:drift_feature_psi:pooled_drifted
                )
                or (0 * model_feature:drift_feature_psi:pooled_drifted + time())
              |||,
            },

            {
              record: 'model_feature:drift_feature_jensen_shannon:pooled_drifted',
              expr: |||
                (
                  model_feature:drift_feature_jensen_shannon:pooled
                    >= on (%(groupLabels)s) group_left ()
                  model:drift_threshold_feature_jensen_shannon_warning:value
                )
                >= model_feature:drift_feature_jensen_shannon_critical:pooled
                and (model_feature:drift_feature_judged:pooled == 1)
                and ignoring (feature)
                (model_feature:drift_window_records:pooled >= model:drift_window_min_records:max)
              ||| % $._config,
            },
            {
              record: 'model_feature:drift_feature_jensen_shannon:pooled_drifted_since',
              expr: |||
                (
                  model_feature:drift_feature_jensen_shannon:pooled_drifted_since
                  and model_feature:drift_feature_jensen_shannon:pooled_drifted
                )
                or (0 * model_feature:drift_feature_jensen_shannon:pooled_drifted + time())
              |||,
            },

            // Wasserstein is computed on raw-value samples, which Prometheus cannot pool: the model's
            // decision is that EVERY replica that judged the feature on a full window of its own flags
            // it by the one rule of drifted (the condition of feature:drift_feature_wasserstein_
            // normalized:drifted in drift_recording.yml, written out here so that it is read in this
            // evaluation), so the model-level false-alarm rate is at most one replica's. The value is
            // the smallest of their distances. One replica: its own decision.
            {
              record: 'model_feature:drift_feature_wasserstein_normalized:pooled_drifted',
              expr: |||
                min without (%(replicaLabelNames)s) (
                  (
                    drift_feature_wasserstein_normalized
                      >= on (%(groupLabels)s) group_left ()
                    model:drift_threshold_feature_wasserstein_normalized_warning:value
                  )
                  >= drift_feature_wasserstein_normalized_critical
                  and (drift_feature_judged == 1)
                  and ignoring (feature) (drift_window_records >= drift_window_min_records)
                )
                and (
                  count without (%(replicaLabelNames)s) (
                    (
                      drift_feature_wasserstein_normalized
                        >= on (%(groupLabels)s) group_left ()
                      model:drift_threshold_feature_wasserstein_normalized_warning:value
                    )
                    >= drift_feature_wasserstein_normalized_critical
                    and (drift_feature_judged == 1)
                    and ignoring (feature) (drift_window_records >= drift_window_min_records)
                  )
                  ==
                  count without (%(replicaLabelNames)s) (
                    drift_feature_wasserstein_normalized_critical
                    and (drift_feature_judged == 1)
                    and ignoring (feature) (drift_window_records >= drift_window_min_records)
                  )
                )
              ||| % $._config,
            },
            {
              record: 'model_feature:drift_feature_wasserstein_normalized:pooled_drifted_since',
              expr: |||
                (
                  model_feature:drift_feature_wasserstein_normalized:pooled_drifted_since
                  and model_feature:drift_feature_wasserstein_normalized:pooled_drifted
                )
                or (0 * model_feature:drift_feature_wasserstein_normalized:pooled_drifted + time())
              |||,
            },

            // The share of the model's judged features that drifted. One replica: the sidecar's own
            // (by its drift.method). Several: by pooled PSI (the default method).
            {
              record: 'model:drift_features_evaluated:pooled',
              expr: |||
                (
                  max without (%(replicaLabelNames)s) (drift_features_evaluated)
                  and (model:drift_window_records:count == 1)
                )
                or
                (
                  count without (feature) (
                    model_feature:drift_feature_psi_critical:pooled
                    and (model_feature:drift_feature_judged:pooled == 1)
                  )
                  and (model:drift_window_records:count > 1)
                )
              ||| % $._config,
            },
            {
              record: 'model:drift_features_drifted:pooled',
              expr: |||
                (
                  max without (%(replicaLabelNames)s) (drift_features_drifted)
                  and (model:drift_window_records:count == 1)
                )
                or
                (
                  (
                    count without (feature) (model_feature:drift_feature_psi:pooled_drifted)
                    or 0 * model:drift_features_evaluated:pooled
                  )
                  and (model:drift_window_records:count > 1)
                )
              ||| % $._config,
            },
            {
              record: 'model:drift_features_drifted_ratio:pooled',
              expr: |||
                (
                  max without (%(replicaLabelNames)s) (drift_features_drifted_ratio)
                  and (model:drift_window_records:count == 1)
                )
                or
                (
                  model:drift_features_drifted:pooled / model:drift_features_evaluated:pooled
                  and (model:drift_window_records:count > 1)
                )
              ||| % $._config,
            },
            // Many features drifted: above the model's share, and at least two of them.
            {
              record: 'model:drift_features_drifted_ratio:pooled_many',
              expr: |||
                (
                  model:drift_features_drifted_ratio:pooled
                    > on (%(groupLabels)s) group_left ()
                  model:drift_threshold_features_drifted_ratio_warning:value
                )
                and (model:drift_features_drifted:pooled > 1)
                and (model_feature:drift_window_records:pooled >= model:drift_window_min_records:max)
              ||| % $._config,
            },
            {
              record: 'model:drift_features_drifted_ratio:pooled_many_since',
              expr: |||
                (
                  model:drift_features_drifted_ratio:pooled_many_since
                  and model:drift_features_drifted_ratio:pooled_many
                )
                or (0 * model:drift_features_drifted_ratio:pooled_many + time())
              |||,
            },
          ],
        },

        // The prediction column: the same steps with the prediction's families (labels without
        // feature) and its own no-drift level (drift_prediction_noise_quantile_z).
        {
          name: 'drift-pooled-prediction',
          rules: [
            {
              record: 'model:drift_prediction_noise_quantile_z:max',
              expr: 'max without (%(replicaLabelNames)s) (drift_prediction_noise_quantile_z)' % $._config,
            },
            {
              record: 'model:drift_prediction_reference_bins:mismatched',
              expr: |||
                count without (bin) (
                  (
                    max without (%(replicaLabelNames)s) (drift_prediction_reference_bin_records)
                    != min without (%(replicaLabelNames)s) (drift_prediction_reference_bin_records)
                  )
                  or
                  (
                    count without (%(replicaLabelNames)s) (drift_prediction_reference_bin_records)
                      < ignoring (bin) group_left ()
                    max without (bin) (count without (%(replicaLabelNames)s) (drift_prediction_reference_bin_records))
                  )
                )
              ||| % $._config,
            },
            {
              record: 'model_bin:drift_prediction_reference_bin_records:pooled',
              expr: |||
                max without (%(replicaLabelNames)s) (drift_prediction_reference_bin_records)
                unless ignoring (bin) model:drift_prediction_reference_bins:mismatched
              ||| % $._config,
            },
            {
              record: 'model_bin:drift_prediction_window_bin_records:pooled',
              expr: |||
                sum without (%(replicaLabelNames)s) (drift_prediction_window_bin_records)
                and model_bin:drift_prediction_reference_bin_records:pooled
              ||| % $._config,
            },
            {
              record: 'model:drift_prediction_reference_bin_records:pooled_sum',
              expr: 'sum without (bin) (model_bin:drift_prediction_reference_bin_records:pooled)',
            },
            {
              record: 'model:drift_prediction_window_bin_records:pooled_sum',
              expr: 'sum without (bin) (model_bin:drift_prediction_window_bin_records:pooled)',
            },
            {
              record: 'model_bin:drift_prediction_window_bin_records:pooled_expected',
              expr: |||
                model_bin:drift_prediction_reference_bin_records:pooled
                  / ignoring (bin) group_left ()
                model:drift_prediction_reference_bin_records:pooled_sum
                  * ignoring (bin) group_left ()
                model:drift_prediction_window_bin_records:pooled_sum
              |||,
            },
            {
              record: 'model_bin:drift_prediction_reference_bin_records:pooled_merged',
              expr: |||
                (
                  model_bin:drift_prediction_reference_bin_records:pooled
                  and model_bin:drift_prediction_window_bin_records:pooled_expected >= 5
                )
                or
                label_replace(
                  sum without (bin) (
                    model_bin:drift_prediction_reference_bin_records:pooled
                    and model_bin:drift_prediction_window_bin_records:pooled_expected < 5
                  ),
                  "bin", "merged", "bin", ""
                )
              |||,
            },
            {
              record: 'model_bin:drift_prediction_window_bin_records:pooled_merged',
              expr: |||
                (
                  model_bin:drift_prediction_window_bin_records:pooled
                  and model_bin:drift_prediction_window_bin_records:pooled_expected >= 5
                )
                or
                label_replace(
                  sum without (bin) (
                    model_bin:drift_prediction_window_bin_records:pooled
                    and model_bin:drift_prediction_window_bin_records:pooled_expected < 5
                  ),
                  "bin", "merged", "bin", ""
                )
              |||,
            },
            {
              record: 'model:drift_prediction_bins:pooled_merged',
              expr: 'count without (bin) (model_bin:drift_prediction_reference_bin_records:pooled_merged)',
            },
            {
              record: 'model_bin:drift_prediction_reference_bin_ratio:pooled_jeffreys',
              expr: |||
                (model_bin:drift_prediction_reference_bin_records:pooled_merged + 0.5)
                  / ignoring (bin) group_left ()
                (
                  model:drift_prediction_reference_bin_records:pooled_sum
                  + 0.5 * model:drift_prediction_bins:pooled_merged
                )
              |||,
            },
            {
              record: 'model_bin:drift_prediction_window_bin_ratio:pooled_jeffreys',
              expr: |||
                (model_bin:drift_prediction_window_bin_records:pooled_merged + 0.5)
                  / ignoring (bin) group_left ()
                (
                  model:drift_prediction_window_bin_records:pooled_sum
                  + 0.5 * model:drift_prediction_bins:pooled_merged
                )
              |||,
            },
            {
              record: 'model:drift_prediction_psi:pooled',
              expr: |||
                (
                  max without (%(replicaLabelNames)s) (drift_prediction_psi)
                  and (model:drift_window_records:count == 1)
                )
                or
                (
                  sum without (bin) (
                    (
                      model_bin:drift_prediction_window_bin_ratio:pooled_jeffreys
                      - model_bin:drift_prediction_reference_bin_ratio:pooled_jeffreys
                    )
                    * ln(
                      model_bin:drift_prediction_window_bin_ratio:pooled_jeffreys
                      / model_bin:drift_prediction_reference_bin_ratio:pooled_jeffreys
                    )
                  )
                  and (model:drift_window_records:count > 1)
                )
              ||| % $._config,
            },
            {
              record: 'model:drift_prediction_valid_records:pooled',
              expr: |||
                (
                  max without (%(replicaLabelNames)s) (drift_prediction_valid_records)
                  and (model:drift_window_records:count == 1)
                )
                or
                (
                  model:drift_prediction_window_bin_records:pooled_sum
                  and (model:drift_window_records:count > 1)
                )
              ||| % $._config,
            },
            {
              record: 'model:drift_prediction_min_valid_records:pooled',
              expr: |||
                max without (%(replicaLabelNames)s) (drift_prediction_min_valid_records)
                or
                5 * clamp_max(
                  count without (bin) (model_bin:drift_prediction_reference_bin_records:pooled), 10
                )
              ||| % $._config,
            },
            {
              record: 'model:drift_prediction_judged:pooled',
              expr: |||
                (
                  max without (%(replicaLabelNames)s) (drift_prediction_judged)
                  and (model:drift_window_records:count == 1)
                )
                or
                (
                  model:drift_prediction_valid_records:pooled
                    >= bool
                  model:drift_prediction_min_valid_records:pooled
                  and (model:drift_window_records:count > 1)
                )
              ||| % $._config,
            },
            {
              record: 'model:drift_prediction_chi2_noise_quantile:pooled',
              expr: |||
                ((model:drift_prediction_bins:pooled_merged >= 2) - 1)
                * (
                  1
                  - 2 / (9 * ((model:drift_prediction_bins:pooled_merged >= 2) - 1))
                  + sqrt(2 / (9 * ((model:drift_prediction_bins:pooled_merged >= 2) - 1)))
                    * model:drift_prediction_noise_quantile_z:max
                ) ^ 3
              |||,
            },
            {
              record: 'model:drift_prediction_psi_critical:pooled',
              expr: |||
                (
                  max without (%(replicaLabelNames)s) (drift_prediction_psi_critical)
                  and (model:drift_window_records:count == 1)
                )
                or
                (
                  model:drift_prediction_chi2_noise_quantile:pooled
                  * (
                    1 / model:drift_prediction_window_bin_records:pooled_sum
                    + 1 / model:drift_prediction_reference_bin_records:pooled_sum
                  )
                  and (model:drift_window_records:count > 1)
                )
              ||| % $._config,
            },
            {
              record: 'model:drift_prediction_psi:pooled_drifted',
              expr: |||
                (
                  model:drift_prediction_psi:pooled
                    >= on (%(groupLabels)s) group_left ()
                  model:drift_threshold_prediction_psi_warning:value
                )
                >= model:drift_prediction_psi_critical:pooled
                and (model:drift_prediction_judged:pooled == 1)
                and (model_feature:drift_window_records:pooled >= model:drift_window_min_records:max)
              ||| % $._config,
            },
            {
              record: 'model:drift_prediction_psi:pooled_drifted_since',
              expr: |||
                (model:drift_prediction_psi:pooled_drifted_since and model:drift_prediction_psi:pooled_drifted)
                or (0 * model:drift_prediction_psi:pooled_drifted + time())
              |||,
            },
            // Severe: the same with the severe floor (the prediction's critical threshold).
            {
              record: 'model:drift_prediction_psi:pooled_severe',
              expr: |||
                (
                  model:drift_prediction_psi:pooled
                    >= on (%(groupLabels)s) group_left ()
                  model:drift_threshold_prediction_psi_critical:value
                )
                >= model:drift_prediction_psi_critical:pooled
                and (model:drift_prediction_judged:pooled == 1)
                and (model_feature:drift_window_records:pooled >= model:drift_window_min_records:max)
              ||| % $._config,
            },
            {
              record: 'model:drift_prediction_psi:pooled_severe_since',
              expr: |||
                (model:drift_prediction_psi:pooled_severe_since and model:drift_prediction_psi:pooled_severe)
                or (0 * model:drift_prediction_psi:pooled_severe + time())
              |||,
            },
          ],
        },

        // Pooled data quality: the window's counts summed over replicas over the summed window,
        // sum(count) / sum(drift_window_records), never an average of ratios. One replica: its own
        // ratio. The traffic rate, summed.
        {
          name: 'drift-pooled-quality',
          rules: [
            {
              record: 'model_feature:drift_feature_missing_ratio:pooled',
              expr: |||
                (
                  max without (%(replicaLabelNames)s) (drift_feature_missing_ratio)
                  and ignoring (feature) (model:drift_window_records:count == 1)
                )
                or
                (
                  sum without (%(replicaLabelNames)s) (drift_feature_missing_records)
                    / ignoring (feature) group_left ()
                  sum without (%(replicaLabelNames)s) (drift_window_records)
                  and ignoring (feature) (model:drift_window_records:count > 1)
                )
              ||| % $._config,
            },
            {
              record: 'model_feature:drift_feature_type_mismatch_ratio:pooled',
              expr: |||
                (
                  max without (%(replicaLabelNames)s) (drift_feature_type_mismatch_ratio)
                  and ignoring (feature) (model:drift_window_records:count == 1)
                )
                or
                (
                  sum without (%(replicaLabelNames)s) (drift_feature_type_mismatch_records)
                    / ignoring (feature) group_left ()
                  sum without (%(replicaLabelNames)s) (drift_window_records)
                  and ignoring (feature) (model:drift_window_records:count > 1)
                )
              ||| % $._config,
            },
            {
              record: 'model_feature:drift_feature_unseen_category_ratio:pooled',
              expr: |||
                (
                  max without (%(replicaLabelNames)s) (drift_feature_unseen_category_ratio)
                  and ignoring (feature) (model:drift_window_records:count == 1)
                )
                or
                (
                  sum without (%(replicaLabelNames)s) (drift_feature_unseen_category_records)
                    / ignoring (feature) group_left ()
                  sum without (%(replicaLabelNames)s) (drift_window_records)
                  and ignoring (feature) (model:drift_window_records:count > 1)
                )
              ||| % $._config,
            },
            {
              record: 'model_feature:drift_feature_out_of_range_ratio:pooled',
              expr: |||
                (
                  max without (%(replicaLabelNames)s) (drift_feature_out_of_range_ratio)
                  and ignoring (feature) (model:drift_window_records:count == 1)
                )
                or
                (
                  sum without (%(replicaLabelNames)s) (drift_feature_out_of_range_records)
                    / ignoring (feature) group_left ()
                  sum without (%(replicaLabelNames)s) (drift_window_records)
                  and ignoring (feature) (model:drift_window_records:count > 1)
                )
              ||| % $._config,
            },
            // Prediction records accepted per second by all replicas (ModelDriftNoTraffic).
            {
              record: 'model:drift_records:pooled_rate5m',
              expr: 'sum without (%(replicaLabelNames)s) (model:drift_records:rate5m)' % $._config,
            },
          ],
        },

        // Pooled performance: each replica's metric weighted by the labelled pairs (or, for the
        // label-free estimates, the window records) it was computed on, over the replicas that
        // publish it (a sidecar publishes realised metrics from drift_performance_min_labels pairs
        // on, so a replica with fewer labels is left out). accuracy * pairs is the replica's count of
        // right predictions and mse * pairs its sum of squared errors, so these are the whole
        // labelled window's accuracy and MSE exactly; RMSE = sqrt(pooled MSE). The reference's
        // figures are one replica's (max): replicas share the reference.
        {
          name: 'drift-pooled-performance',
          rules: [
            {
              record: 'model:drift_labelled_window_records:pooled',
              expr: 'sum without (%(replicaLabelNames)s) (drift_labelled_window_records)' % $._config,
            },
            {
              record: 'model:drift_performance_min_labels:max',
              expr: 'max without (%(replicaLabelNames)s) (drift_performance_min_labels)' % $._config,
            },
            {
              record: 'model:drift_labelled_window_records:pooled_accuracy',
              expr: 'sum without (%(replicaLabelNames)s) (drift_labelled_window_records and drift_performance_accuracy)' % $._config,
            },
            {
              record: 'model:drift_performance_accuracy:pooled',
              expr: |||
                sum without (%(replicaLabelNames)s) (drift_performance_accuracy * drift_labelled_window_records)
                / model:drift_labelled_window_records:pooled_accuracy
              ||| % $._config,
            },
            {
              record: 'model:drift_labelled_window_records:pooled_mae',
              expr: 'sum without (%(replicaLabelNames)s) (drift_labelled_window_records and drift_performance_mae)' % $._config,
            },
            {
              record: 'model:drift_performance_mae:pooled',
              expr: |||
                sum without (%(replicaLabelNames)s) (drift_performance_mae * drift_labelled_window_records)
                / model:drift_labelled_window_records:pooled_mae
              ||| % $._config,
            },
            {
              record: 'model:drift_labelled_window_records:pooled_mse',
              expr: 'sum without (%(replicaLabelNames)s) (drift_labelled_window_records and drift_performance_mse)' % $._config,
            },
            {
              record: 'model:drift_performance_mse:pooled',
              expr: |||
                sum without (%(replicaLabelNames)s) (drift_performance_mse * drift_labelled_window_records)
                / model:drift_labelled_window_records:pooled_mse
              ||| % $._config,
            },
            // sqrt of the pooled MSE, from each replica's RMSE squared (its MSE), so that it needs
            // no more than the RMSE gauges.
            {
              record: 'model:drift_labelled_window_records:pooled_rmse',
              expr: 'sum without (%(replicaLabelNames)s) (drift_labelled_window_records and drift_performance_rmse)' % $._config,
            },
            {
              record: 'model:drift_performance_rmse:pooled',
              expr: |||
                sqrt(
                  sum without (%(replicaLabelNames)s) (drift_performance_rmse ^ 2 * drift_labelled_window_records)
                  / model:drift_labelled_window_records:pooled_rmse
                )
              ||| % $._config,
            },
            {
              record: 'model:drift_reference_performance_accuracy:max',
              expr: 'max without (%(replicaLabelNames)s) (drift_reference_performance_accuracy)' % $._config,
            },
            {
              record: 'model:drift_reference_performance_rmse:max',
              expr: 'max without (%(replicaLabelNames)s) (drift_reference_performance_rmse)' % $._config,
            },
            {
              record: 'model:drift_reference_labelled_records:max',
              expr: 'max without (%(replicaLabelNames)s) (drift_reference_labelled_records)' % $._config,
            },
            // The sampling errors of drift-performance-errors (drift_recording.yml) at the pooled n.
            {
              record: 'model:drift_performance_accuracy_drop_stderr:pooled',
              expr: |||
                sqrt(
                  model:drift_performance_accuracy:pooled * (1 - model:drift_performance_accuracy:pooled)
                    / model:drift_labelled_window_records:pooled_accuracy
                  + model:drift_reference_performance_accuracy:max
                    * (1 - model:drift_reference_performance_accuracy:max)
                    / model:drift_reference_labelled_records:max
                )
              |||,
            },
            {
              record: 'model:drift_performance_rmse_increase_ratio_stderr:pooled',
              expr: |||
                model:drift_performance_rmse:pooled / model:drift_reference_performance_rmse:max
                * sqrt(
                  0.5 / model:drift_labelled_window_records:pooled_rmse
                  + 0.5 / model:drift_reference_labelled_records:max
                )
              |||,
            },

            // Label-free estimates (CBPE accuracy; direct loss estimation RMSE), each a mean over a
            // replica's window: weighted by its window records they are the whole traffic's mean
            // (MSE for the RMSE). Their standard error: the CBPE bound sqrt(a (1 - a) / n) at the
            // pooled n, as drift_recording.yml; for the RMSE estimate the weighted mean of the
            // replicas' errors, which does not shrink with N: part of it is the shared reference's
            // per-bin error, so this errs on the side of fewer alerts.
            {
              record: 'model:drift_window_records:pooled_estimated_accuracy',
              expr: 'sum without (%(replicaLabelNames)s) (drift_window_records and drift_estimated_accuracy)' % $._config,
            },
            {
              record: 'model:drift_estimated_accuracy:pooled',
              expr: |||
                sum without (%(replicaLabelNames)s) (drift_estimated_accuracy * drift_window_records)
                / model:drift_window_records:pooled_estimated_accuracy
              ||| % $._config,
            },
            {
              record: 'model:drift_estimated_accuracy_drop_stderr:pooled',
              expr: |||
                sqrt(
                  model:drift_estimated_accuracy:pooled * (1 - model:drift_estimated_accuracy:pooled)
                    / model:drift_window_records:pooled_estimated_accuracy
                  + model:drift_reference_performance_accuracy:max
                    * (1 - model:drift_reference_performance_accuracy:max)
                    / model:drift_reference_labelled_records:max
                )
              |||,
            },
            {
              record: 'model:drift_window_records:pooled_estimated_rmse',
              expr: 'sum without (%(replicaLabelNames)s) (drift_window_records and drift_estimated_rmse)' % $._config,
            },
            {
              record: 'model:drift_estimated_rmse:pooled',
              expr: |||
                sqrt(
                  sum without (%(replicaLabelNames)s) (drift_estimated_rmse ^ 2 * drift_window_records)
                  / model:drift_window_records:pooled_estimated_rmse
                )
              ||| % $._config,
            },
            {
              record: 'model:drift_estimated_rmse_increase_ratio_stderr:pooled',
              expr: |||
                sum without (%(replicaLabelNames)s) (drift_estimated_rmse_stderr * drift_window_records)
                / model:drift_window_records:pooled_estimated_rmse
                / model:drift_reference_performance_rmse:max
              ||| % $._config,
            },
          ],
        },
      ],
    },
  },
}
