// Alerts for drift-exporter. Naming, severities and annotations follow STYLE.md.
//
// A model runs as one or more replicas, each with its sidecar (issue 14). Alerts about the
// MODEL fire once per model (and feature), on the pooled recording rules of drift_pooled.yml,
// with the labels job, model (feature) and any deployment labels, never instance: drift,
// prediction drift, the share of drifted features, realised and estimated performance, a thin
// window, concept drift. A single sidecar is its own pool: it alerts exactly as it did alone.
// Alerts about ONE REPLICA name it (instance): its sidecar is down, its evaluation stale or
// failing, it receives no traffic while the others do, its own full window has bad input
// while the model's pooled window does not, or the replicas hold different references.
//
// Drift (features, prediction, share of features):
//   - one meaning of "drifted", recorded in drift_pooled.yml (*:pooled_drifted): statistic >=
//     the model's floor (drift_thresholds.yml, overridable per model in
//     drift_threshold_overrides.yml) AND >= the no-drift critical value at the pooled
//     window's size, AND the feature was judged on the pooled window, AND the pooled window
//     holds the model's minimum of records;
//   - fresh evidence: the condition held through a full window turnover (15 min of a window's
//     worth of new records over all replicas, or 65 min = window.duration_seconds + one slice);
//   - drift alone is a warning (a ticket). Pages need impact: a realised or estimated
//     performance drop beyond its sampling error, or a severe prediction drift
//     (docs/runbook.md, "What pages and what files a ticket").
// Data quality: the pooled ratio (sum of counts over sum of windows) above a per-model
// threshold, gated on the pooled window; or one replica's own ratio above it, gated on that
// replica's own window, while the pooled ratio is not. Held by a `for:` long enough that one
// bad batch never pages.
// Every gate joins on all the series' identifying labels (`ignoring` the finer level's label,
// or one to one), never on model alone; only the per-model thresholds join `on (model)`.
// Warning and critical share an alert name; Alertmanager inhibits the warning while the
// critical fires for the same job, instance (or none: the model), model (and feature).
local lib = import '../lib.libsonnet';

{
  ruleFiles+:: {
    'drift_alerts.yml': {
      groups: [
        {
          name: 'drift-features',
          rules: [
            // ModelDriftFeatureShift: Feature drift by the population stability index.
            {
              alert: 'ModelDriftFeatureShift',
              expr: |||
                model_feature:drift_feature_psi:pooled_drifted
                and (
                  (
                    time() - model_feature:drift_feature_psi:pooled_drifted_since >= 900
                    and ignoring (feature)
                    (model:drift_records:pooled_increase15m >= model_feature:drift_window_records:pooled)
                  )
                  or time() - model_feature:drift_feature_psi:pooled_drifted_since >= 3900
                )
              |||,
              // Fresh evidence (issue 13, item 5): the expression itself demands that the condition
              // held through a full turnover of the window, so two windows with no record in common
              // agree: either for 15 min while at least a window's worth of new records arrived
              // (increase(drift_records_total[15m]) >= drift_window_records), or for 65 min =
              // window.duration_seconds (3600) + one slice (3600 / window.slices = 300), after which
              // every record judged at the start has aged out. 65m MUST follow window.duration_seconds
              // and window.slices; 15m may be anything (longer = fewer, later alerts).
              // 1 min on top: the recording rules (another group) and this alert agree over a few
              // evaluations before anyone is notified.
              'for': '1m',
              labels: {
                severity: 'warning',
              },
              annotations: {
                summary: 'A feature\'s distribution has shifted away from its reference (PSI).',
                description: lib.fold(|||
                  Feature {{ $labels.feature }} of model {{ $labels.model }} has PSI
                  {{ $value | printf "%.3f" }} against its reference, at or above both its floor
                  {{ with printf "model:drift_threshold_feature_psi_warning:value{model=%q}" $labels.model | query }}{{ . | first | value | printf "%.3g" }}{{ end }} and its no-drift critical value
                  {{ with printf "model_feature:drift_feature_psi_critical:pooled{job=%q,namespace=%q,cluster=%q,model=%q,feature=%q}" $labels.job $labels.namespace $labels.cluster $labels.model $labels.feature | query }}{{ . | first | value | printf "%.3g" }}{{ end }} at this window's size.
                |||),
                runbook_url: '%(runbookBaseUrl)s#alert-name-modeldriftfeatureshift' % $._config,
              },
            },

            // ModelDriftFeatureJensenShannon: Feature drift by Jensen-Shannon distance (base 2, 0..1).
            {
              alert: 'ModelDriftFeatureJensenShannon',
              expr: |||
                model_feature:drift_feature_jensen_shannon:pooled_drifted
                and (
                  (
                    time() - model_feature:drift_feature_jensen_shannon:pooled_drifted_since >= 900
                    and ignoring (feature)
                    (model:drift_records:pooled_increase15m >= model_feature:drift_window_records:pooled)
                  )
                  or time() - model_feature:drift_feature_jensen_shannon:pooled_drifted_since >= 3900
                )
              |||,
              // Fresh evidence (issue 13, item 5): the expression itself demands that the condition
              // held through a full turnover of the window, so two windows with no record in common
              // agree: either for 15 min while at least a window's worth of new records arrived
              // (increase(drift_records_total[15m]) >= drift_window_records), or for 65 min =
              // window.duration_seconds (3600) + one slice (3600 / window.slices = 300), after which
              // every record judged at the start has aged out. 65m MUST follow window.duration_seconds
              // and window.slices; 15m may be anything (longer = fewer, later alerts).
              // 1 min on top: the recording rules (another group) and this alert agree over a few
              // evaluations before anyone is notified.
              'for': '1m',
              labels: {
                severity: 'warning',
              },
              annotations: {
                summary: 'A feature\'s distribution has moved away from its reference (Jensen-Shannon distance).',
                description: lib.fold(|||
                  Feature {{ $labels.feature }} of model {{ $labels.model }} has Jensen-Shannon
                  distance {{ $value | printf "%.3f" }} to its reference, at or above both its floor
                  {{ with printf "model:drift_threshold_feature_jensen_shannon_warning:value{model=%q}" $labels.model | query }}{{ . | first | value | printf "%.3g" }}{{ end }} and its no-drift critical value
                  {{ with printf "model_feature:drift_feature_jensen_shannon_critical:pooled{job=%q,namespace=%q,cluster=%q,model=%q,feature=%q}" $labels.job $labels.namespace $labels.cluster $labels.model $labels.feature | query }}{{ . | first | value | printf "%.3g" }}{{ end }} at this window's size.
                |||),
                runbook_url: '%(runbookBaseUrl)s#alert-name-modeldriftfeaturejensenshannon' % $._config,
              },
            },

            // ModelDriftFeatureWasserstein: Numeric feature drift by Wasserstein-1 distance over the reference standard deviation.
            {
              alert: 'ModelDriftFeatureWasserstein',
              expr: |||
                model_feature:drift_feature_wasserstein_normalized:pooled_drifted
                and (
                  (
                    time() - model_feature:drift_feature_wasserstein_normalized:pooled_drifted_since >= 900
                    and ignoring (feature)
                    (model:drift_records:pooled_increase15m >= model_feature:drift_window_records:pooled)
                  )
                  or time() - model_feature:drift_feature_wasserstein_normalized:pooled_drifted_since >= 3900
                )
              |||,
              // Fresh evidence (issue 13, item 5): the expression itself demands that the condition
              // held through a full turnover of the window, so two windows with no record in common
              // agree: either for 15 min while at least a window's worth of new records arrived
              // (increase(drift_records_total[15m]) >= drift_window_records), or for 65 min =
              // window.duration_seconds (3600) + one slice (3600 / window.slices = 300), after which
              // every record judged at the start has aged out. 65m MUST follow window.duration_seconds
              // and window.slices; 15m may be anything (longer = fewer, later alerts).
              // 1 min on top: the recording rules (another group) and this alert agree over a few
              // evaluations before anyone is notified.
              'for': '1m',
              labels: {
                severity: 'warning',
              },
              annotations: {
                summary: 'A numeric feature has moved away from its reference (normalized Wasserstein distance).',
                description: lib.fold(|||
                  Feature {{ $labels.feature }} of model {{ $labels.model }} has moved at least
                  {{ $value | printf "%.3f" }} reference standard deviations (W1 / std) on every replica
                  that judged it, at or above both its floor {{ with printf "model:drift_threshold_feature_wasserstein_normalized_warning:value{model=%q}" $labels.model | query }}{{ . | first | value | printf "%.3g" }}{{ end }} and its no-drift critical value
                  {{ with printf "max without (instance, pod) (drift_feature_wasserstein_normalized_critical{job=%q,namespace=%q,cluster=%q,model=%q,feature=%q})" $labels.job $labels.namespace $labels.cluster $labels.model $labels.feature | query }}{{ . | first | value | printf "%.3g" }}{{ end }} at this window's size.
                |||),
                runbook_url: '%(runbookBaseUrl)s#alert-name-modeldriftfeaturewasserstein' % $._config,
              },
            },

            // ModelDriftManyFeaturesDrifted: Share of features the exporter flags as drifted.
            {
              alert: 'ModelDriftManyFeaturesDrifted',
              expr: |||
                model:drift_features_drifted_ratio:pooled_many
                and (
                  (
                    time() - model:drift_features_drifted_ratio:pooled_many_since >= 900
                    and (model:drift_records:pooled_increase15m >= model_feature:drift_window_records:pooled)
                  )
                  or time() - model:drift_features_drifted_ratio:pooled_many_since >= 3900
                )
              |||,
              // Fresh evidence (issue 13, item 5): the expression itself demands that the condition
              // held through a full turnover of the window, so two windows with no record in common
              // agree: either for 15 min while at least a window's worth of new records arrived
              // (increase(drift_records_total[15m]) >= drift_window_records), or for 65 min =
              // window.duration_seconds (3600) + one slice (3600 / window.slices = 300), after which
              // every record judged at the start has aged out. 65m MUST follow window.duration_seconds
              // and window.slices; 15m may be anything (longer = fewer, later alerts).
              // 1 min on top: the recording rules (another group) and this alert agree over a few
              // evaluations before anyone is notified.
              'for': '1m',
              labels: {
                severity: 'warning',
              },
              annotations: {
                summary: 'A large share of a model\'s features are flagged as drifted.',
                description: lib.fold(|||
                  {{ $value | humanizePercentage }} of the features of model {{ $labels.model }} are
                  flagged as drifted, above the warning threshold
                  {{ with printf "model:drift_threshold_features_drifted_ratio_warning:value{model=%q}" $labels.model | query }}{{ . | first | value | humanizePercentage }}{{ end }}.
                |||),
                runbook_url: '%(runbookBaseUrl)s#alert-name-modeldriftmanyfeaturesdrifted' % $._config,
              },
            },
          ],
        },

        {
          name: 'drift-prediction',
          rules: [
            // ModelDriftPredictionShift: Prediction (output) drift by PSI. Warning: drifted (a ticket).
            {
              alert: 'ModelDriftPredictionShift',
              expr: |||
                model:drift_prediction_psi:pooled_drifted
                and (
                  (
                    time() - model:drift_prediction_psi:pooled_drifted_since >= 900
                    and (model:drift_records:pooled_increase15m >= model_feature:drift_window_records:pooled)
                  )
                  or time() - model:drift_prediction_psi:pooled_drifted_since >= 3900
                )
              |||,
              // Fresh evidence (issue 13, item 5): the expression itself demands that the condition
              // held through a full turnover of the window, so two windows with no record in common
              // agree: either for 15 min while at least a window's worth of new records arrived
              // (increase(drift_records_total[15m]) >= drift_window_records), or for 65 min =
              // window.duration_seconds (3600) + one slice (3600 / window.slices = 300), after which
              // every record judged at the start has aged out. 65m MUST follow window.duration_seconds
              // and window.slices; 15m may be anything (longer = fewer, later alerts).
              // 1 min on top: the recording rules (another group) and this alert agree over a few
              // evaluations before anyone is notified.
              'for': '1m',
              labels: {
                severity: 'warning',
              },
              annotations: {
                summary: 'A model\'s predictions have shifted away from their reference distribution (PSI).',
                description: lib.fold(|||
                  The predictions of model {{ $labels.model }} have PSI {{ $value | printf "%.3f" }}
                  against the reference, at or above both the floor
                  {{ with printf "model:drift_threshold_prediction_psi_warning:value{model=%q}" $labels.model | query }}{{ . | first | value | printf "%.3g" }}{{ end }}
                  and the no-drift critical value {{ with printf "model:drift_prediction_psi_critical:pooled{job=%q,namespace=%q,cluster=%q,model=%q}" $labels.job $labels.namespace $labels.cluster $labels.model | query }}{{ . | first | value | printf "%.3g" }}{{ end }} at this window's size.
                |||),
                runbook_url: '%(runbookBaseUrl)s#alert-name-modeldriftpredictionshift' % $._config,
              },
            },
            // Critical: SEVERE prediction drift (severe floor, PSI 0.1 ~ 0.3 std): the model's output
            // moved enough to change decisions. Impact without labels: pages, calls the retraining webhook.
            {
              alert: 'ModelDriftPredictionShift',
              expr: |||
                model:drift_prediction_psi:pooled_severe
                and (
                  (
                    time() - model:drift_prediction_psi:pooled_severe_since >= 900
                    and (model:drift_records:pooled_increase15m >= model_feature:drift_window_records:pooled)
                  )
                  or time() - model:drift_prediction_psi:pooled_severe_since >= 3900
                )
              |||,
              // Fresh evidence (issue 13, item 5): the expression itself demands that the condition
              // held through a full turnover of the window, so two windows with no record in common
              // agree: either for 15 min while at least a window's worth of new records arrived
              // (increase(drift_records_total[15m]) >= drift_window_records), or for 65 min =
              // window.duration_seconds (3600) + one slice (3600 / window.slices = 300), after which
              // every record judged at the start has aged out. 65m MUST follow window.duration_seconds
              // and window.slices; 15m may be anything (longer = fewer, later alerts).
              // 1 min on top: the recording rules (another group) and this alert agree over a few
              // evaluations before anyone is notified.
              'for': '1m',
              labels: {
                severity: 'critical',
              },
              annotations: {
                summary: 'A model\'s predictions have shifted away from their reference distribution (PSI).',
                description: lib.fold(|||
                  The predictions of model {{ $labels.model }} have PSI {{ $value | printf "%.3f" }}
                  against the reference, at or above both the severe floor
                  {{ with printf "model:drift_threshold_prediction_psi_critical:value{model=%q}" $labels.model | query }}{{ . | first | value | printf "%.3g" }}{{ end }}
                  and the no-drift critical value {{ with printf "model:drift_prediction_psi_critical:pooled{job=%q,namespace=%q,cluster=%q,model=%q}" $labels.job $labels.namespace $labels.cluster $labels.model | query }}{{ . | first | value | printf "%.3g" }}{{ end }} at this window's size.
                |||),
                runbook_url: '%(runbookBaseUrl)s#alert-name-modeldriftpredictionshift' % $._config,
              },
            },
          ],
        },

        {
          name: 'drift-data-quality',
          rules: [
            // ModelDriftFeatureMissingValues: Data quality: missing or NaN values.
            {
              alert: 'ModelDriftFeatureMissingValues',
              expr: |||
                # The model's pooled window ...
                (
                  (
                    model_feature:drift_feature_missing_ratio:pooled
                      > on (%(groupLabels)s) group_left ()
                    model:drift_threshold_feature_missing_ratio_warning:value
                  )
                  and ignoring (feature)
                  (model_feature:drift_window_records:pooled >= model:drift_window_min_records:max)
                )
                or
                # ... or one replica's own full window, while the pooled ratio is not above.
                (
                  (
                    drift_feature_missing_ratio
                      > on (%(groupLabels)s) group_left ()
                    model:drift_threshold_feature_missing_ratio_warning:value
                  )
                  and ignoring (feature)
                  (drift_window_records >= drift_window_min_records)
                  unless ignoring (instance, pod)
                  (
                    model_feature:drift_feature_missing_ratio:pooled
                      > on (%(groupLabels)s) group_left ()
                    model:drift_threshold_feature_missing_ratio_warning:value
                  )
                )
              ||| % $._config,
              // 15 min = 60 agreeing evaluations: a single malformed batch passes
              // through the window without paging.
              'for': '15m',
              labels: {
                severity: 'warning',
              },
              annotations: {
                summary: 'A feature is missing or NaN in a large share of recent records.',
                description: lib.fold(|||
                  Feature {{ $labels.feature }} of model {{ $labels.model }} is missing or NaN in
                  {{ $value | humanizePercentage }} of {{ if $labels.instance }}replica {{ $labels.instance }}'s window
                  (the model's pooled window is under the threshold){{ else }}the window{{ end }}, above the warning threshold
                  {{ with printf "model:drift_threshold_feature_missing_ratio_warning:value{model=%q}" $labels.model | query }}{{ . | first | value | humanizePercentage }}{{ end }}.
                |||),
                runbook_url: '%(runbookBaseUrl)s#alert-name-modeldriftfeaturemissingvalues' % $._config,
              },
            },
            {
              alert: 'ModelDriftFeatureMissingValues',
              expr: |||
                # The model's pooled window ...
                (
                  (
                    model_feature:drift_feature_missing_ratio:pooled
                      > on (%(groupLabels)s) group_left ()
                    model:drift_threshold_feature_missing_ratio_critical:value
                  )
                  and ignoring (feature)
                  (model_feature:drift_window_records:pooled >= model:drift_window_min_records:max)
                )
                or
                # ... or one replica's own full window, while the pooled ratio is not above.
                (
                  (
                    drift_feature_missing_ratio
                      > on (%(groupLabels)s) group_left ()
                    model:drift_threshold_feature_missing_ratio_critical:value
                  )
                  and ignoring (feature)
                  (drift_window_records >= drift_window_min_records)
                  unless ignoring (instance, pod)
                  (
                    model_feature:drift_feature_missing_ratio:pooled
                      > on (%(groupLabels)s) group_left ()
                    model:drift_threshold_feature_missing_ratio_critical:value
                  )
                )
              ||| % $._config,
              // 5 min = 20 agreeing evaluations: broken inputs make bad predictions right
              // now, so page fast, but not on a single evaluation of a single batch.
              'for': '5m',
              labels: {
                severity: 'critical',
              },
              annotations: {
                summary: 'A feature is missing or NaN in a large share of recent records.',
                description: lib.fold(|||
                  Feature {{ $labels.feature }} of model {{ $labels.model }} is missing or NaN in
                  {{ $value | humanizePercentage }} of {{ if $labels.instance }}replica {{ $labels.instance }}'s window
                  (the model's pooled window is under the threshold){{ else }}the window{{ end }}, above the critical threshold
                  {{ with printf "model:drift_threshold_feature_missing_ratio_critical:value{model=%q}" $labels.model | query }}{{ . | first | value | humanizePercentage }}{{ end }}.
                |||),
                runbook_url: '%(runbookBaseUrl)s#alert-name-modeldriftfeaturemissingvalues' % $._config,
              },
            },

            // ModelDriftFeatureTypeMismatch: Data quality: values whose type does not match the reference (schema break).
            {
              alert: 'ModelDriftFeatureTypeMismatch',
              expr: |||
                # The model's pooled window ...
                (
                  (
                    model_feature:drift_feature_type_mismatch_ratio:pooled
                      > on (%(groupLabels)s) group_left ()
                    model:drift_threshold_feature_type_mismatch_ratio_warning:value
                  )
                  and ignoring (feature)
                  (model_feature:drift_window_records:pooled >= model:drift_window_min_records:max)
                )
                or
                # ... or one replica's own full window, while the pooled ratio is not above.
                (
                  (
                    drift_feature_type_mismatch_ratio
                      > on (%(groupLabels)s) group_left ()
                    model:drift_threshold_feature_type_mismatch_ratio_warning:value
                  )
                  and ignoring (feature)
                  (drift_window_records >= drift_window_min_records)
                  unless ignoring (instance, pod)
                  (
                    model_feature:drift_feature_type_mismatch_ratio:pooled
                      > on (%(groupLabels)s) group_left ()
                    model:drift_threshold_feature_type_mismatch_ratio_warning:value
                  )
                )
              ||| % $._config,
              // 15 min = 60 agreeing evaluations: a single malformed batch passes
              // through the window without paging.
              'for': '15m',
              labels: {
                severity: 'warning',
              },
              annotations: {
                summary: 'A feature receives values of the wrong type.',
                description: lib.fold(|||
                  Feature {{ $labels.feature }} of model {{ $labels.model }} has the wrong type in
                  {{ $value | humanizePercentage }} of {{ if $labels.instance }}replica {{ $labels.instance }}'s window
                  (the model's pooled window is under the threshold){{ else }}the window{{ end }}, above the warning threshold
                  {{ with printf "model:drift_threshold_feature_type_mismatch_ratio_warning:value{model=%q}" $labels.model | query }}{{ . | first | value | humanizePercentage }}{{ end }}.
                |||),
                runbook_url: '%(runbookBaseUrl)s#alert-name-modeldriftfeaturetypemismatch' % $._config,
              },
            },
            {
              alert: 'ModelDriftFeatureTypeMismatch',
              expr: |||
                # The model's pooled window ...
                (
                  (
                    model_feature:drift_feature_type_mismatch_ratio:pooled
                      > on (%(groupLabels)s) group_left ()
                    model:drift_threshold_feature_type_mismatch_ratio_critical:value
                  )
                  and ignoring (feature)
                  (model_feature:drift_window_records:pooled >= model:drift_window_min_records:max)
                )
                or
                # ... or one replica's own full window, while the pooled ratio is not above.
                (
                  (
                    drift_feature_type_mismatch_ratio
                      > on (%(groupLabels)s) group_left ()
                    model:drift_threshold_feature_type_mismatch_ratio_critical:value
                  )
                  and ignoring (feature)
                  (drift_window_records >= drift_window_min_records)
                  unless ignoring (instance, pod)
                  (
                    model_feature:drift_feature_type_mismatch_ratio:pooled
                      > on (%(groupLabels)s) group_left ()
                    model:drift_threshold_feature_type_mismatch_ratio_critical:value
                  )
                )
              ||| % $._config,
              // 5 min = 20 agreeing evaluations: broken inputs make bad predictions right
              // now, so page fast, but not on a single evaluation of a single batch.
              'for': '5m',
              labels: {
                severity: 'critical',
              },
              annotations: {
                summary: 'A feature receives values of the wrong type.',
                description: lib.fold(|||
                  Feature {{ $labels.feature }} of model {{ $labels.model }} has the wrong type in
                  {{ $value | humanizePercentage }} of {{ if $labels.instance }}replica {{ $labels.instance }}'s window
                  (the model's pooled window is under the threshold){{ else }}the window{{ end }}, above the critical threshold
                  {{ with printf "model:drift_threshold_feature_type_mismatch_ratio_critical:value{model=%q}" $labels.model | query }}{{ . | first | value | humanizePercentage }}{{ end }}.
                |||),
                runbook_url: '%(runbookBaseUrl)s#alert-name-modeldriftfeaturetypemismatch' % $._config,
              },
            },

            // ModelDriftFeatureUnseenCategories: Data quality: categories absent from the reference (categorical features).
            {
              alert: 'ModelDriftFeatureUnseenCategories',
              expr: |||
                # The model's pooled window ...
                (
                  (
                    model_feature:drift_feature_unseen_category_ratio:pooled
                      > on (%(groupLabels)s) group_left ()
                    model:drift_threshold_feature_unseen_category_ratio_warning:value
                  )
                  and ignoring (feature)
                  (model_feature:drift_window_records:pooled >= model:drift_window_min_records:max)
                )
                or
                # ... or one replica's own full window, while the pooled ratio is not above.
                (
                  (
                    drift_feature_unseen_category_ratio
                      > on (%(groupLabels)s) group_left ()
                    model:drift_threshold_feature_unseen_category_ratio_warning:value
                  )
                  and ignoring (feature)
                  (drift_window_records >= drift_window_min_records)
                  unless ignoring (instance, pod)
                  (
                    model_feature:drift_feature_unseen_category_ratio:pooled
                      > on (%(groupLabels)s) group_left ()
                    model:drift_threshold_feature_unseen_category_ratio_warning:value
                  )
                )
              ||| % $._config,
              // 15 min = 60 agreeing evaluations: a single malformed batch passes
              // through the window without paging.
              'for': '15m',
              labels: {
                severity: 'warning',
              },
              annotations: {
                summary: 'A categorical feature receives categories never seen in its reference.',
                description: lib.fold(|||
                  Feature {{ $labels.feature }} of model {{ $labels.model }} has unseen categories in
                  {{ $value | humanizePercentage }} of {{ if $labels.instance }}replica {{ $labels.instance }}'s window
                  (the model's pooled window is under the threshold){{ else }}the window{{ end }}, above the warning threshold
                  {{ with printf "model:drift_threshold_feature_unseen_category_ratio_warning:value{model=%q}" $labels.model | query }}{{ . | first | value | humanizePercentage }}{{ end }}.
                |||),
                runbook_url: '%(runbookBaseUrl)s#alert-name-modeldriftfeatureunseencategories' % $._config,
              },
            },
            {
              alert: 'ModelDriftFeatureUnseenCategories',
              expr: |||
                # The model's pooled window ...
                (
                  (
                    model_feature:drift_feature_unseen_category_ratio:pooled
                      > on (%(groupLabels)s) group_left ()
                    model:drift_threshold_feature_unseen_category_ratio_critical:value
                  )
                  and ignoring (feature)
                  (model_feature:drift_window_records:pooled >= model:drift_window_min_records:max)
                )
                or
                # ... or one replica's own full window, while the pooled ratio is not above.
                (
                  (
                    drift_feature_unseen_category_ratio
                      > on (%(groupLabels)s) group_left ()
                    model:drift_threshold_feature_unseen_category_ratio_critical:value
                  )
                  and ignoring (feature)
                  (drift_window_records >= drift_window_min_records)
                  unless ignoring (instance, pod)
                  (
                    model_feature:drift_feature_unseen_category_ratio:pooled
                      > on (%(groupLabels)s) group_left ()
                    model:drift_threshold_feature_unseen_category_ratio_critical:value
                  )
                )
              ||| % $._config,
              // 5 min = 20 agreeing evaluations: broken inputs make bad predictions right
              // now, so page fast, but not on a single evaluation of a single batch.
              'for': '5m',
              labels: {
                severity: 'critical',
              },
              annotations: {
                summary: 'A categorical feature receives categories never seen in its reference.',
                description: lib.fold(|||
                  Feature {{ $labels.feature }} of model {{ $labels.model }} has unseen categories in
                  {{ $value | humanizePercentage }} of {{ if $labels.instance }}replica {{ $labels.instance }}'s window
                  (the model's pooled window is under the threshold){{ else }}the window{{ end }}, above the critical threshold
                  {{ with printf "model:drift_threshold_feature_unseen_category_ratio_critical:value{model=%q}" $labels.model | query }}{{ . | first | value | humanizePercentage }}{{ end }}.
                |||),
                runbook_url: '%(runbookBaseUrl)s#alert-name-modeldriftfeatureunseencategories' % $._config,
              },
            },

            // ModelDriftFeatureOutOfRange: Data quality: values outside the reference min..max (numeric features).
            {
              alert: 'ModelDriftFeatureOutOfRange',
              expr: |||
                # The model's pooled window ...
                (
                  (
                    model_feature:drift_feature_out_of_range_ratio:pooled
                      > on (%(groupLabels)s) group_left ()
                    model:drift_threshold_feature_out_of_range_ratio_warning:value
                  )
                  and ignoring (feature)
                  (model_feature:drift_window_records:pooled >= model:drift_window_min_records:max)
                )
                or
                # ... or one replica's own full window, while the pooled ratio is not above.
                (
                  (
                    drift_feature_out_of_range_ratio
                      > on (%(groupLabels)s) group_left ()
                    model:drift_threshold_feature_out_of_range_ratio_warning:value
                  )
                  and ignoring (feature)
                  (drift_window_records >= drift_window_min_records)
                  unless ignoring (instance, pod)
                  (
                    model_feature:drift_feature_out_of_range_ratio:pooled
                      > on (%(groupLabels)s) group_left ()
                    model:drift_threshold_feature_out_of_range_ratio_warning:value
                  )
                )
              ||| % $._config,
              // 15 min = 60 agreeing evaluations: a single malformed batch passes
              // through the window without paging.
              'for': '15m',
              labels: {
                severity: 'warning',
              },
              annotations: {
                summary: 'A numeric feature receives values outside its reference range.',
                description: lib.fold(|||
                  Feature {{ $labels.feature }} of model {{ $labels.model }} is outside the reference
                  min..max in {{ $value | humanizePercentage }} of {{ if $labels.instance }}replica {{ $labels.instance }}'s window
                  (the model's pooled window is under the threshold){{ else }}the window{{ end }}, above the warning
                  threshold
                  {{ with printf "model:drift_threshold_feature_out_of_range_ratio_warning:value{model=%q}" $labels.model | query }}{{ . | first | value | humanizePercentage }}{{ end }}.
                |||),
                runbook_url: '%(runbookBaseUrl)s#alert-name-modeldriftfeatureoutofrange' % $._config,
              },
            },
            {
              alert: 'ModelDriftFeatureOutOfRange',
              expr: |||
                # The model's pooled window ...
                (
                  (
                    model_feature:drift_feature_out_of_range_ratio:pooled
                      > on (%(groupLabels)s) group_left ()
                    model:drift_threshold_feature_out_of_range_ratio_critical:value
                  )
                  and ignoring (feature)
                  (model_feature:drift_window_records:pooled >= model:drift_window_min_records:max)
                )
                or
                # ... or one replica's own full window, while the pooled ratio is not above.
                (
                  (
                    drift_feature_out_of_range_ratio
                      > on (%(groupLabels)s) group_left ()
                    model:drift_threshold_feature_out_of_range_ratio_critical:value
                  )
                  and ignoring (feature)
                  (drift_window_records >= drift_window_min_records)
                  unless ignoring (instance, pod)
                  (
                    model_feature:drift_feature_out_of_range_ratio:pooled
                      > on (%(groupLabels)s) group_left ()
                    model:drift_threshold_feature_out_of_range_ratio_critical:value
                  )
                )
              ||| % $._config,
              // 5 min = 20 agreeing evaluations: broken inputs make bad predictions right
              // now, so page fast, but not on a single evaluation of a single batch.
              'for': '5m',
              labels: {
                severity: 'critical',
              },
              annotations: {
                summary: 'A numeric feature receives values outside its reference range.',
                description: lib.fold(|||
                  Feature {{ $labels.feature }} of model {{ $labels.model }} is outside the reference
                  min..max in {{ $value | humanizePercentage }} of {{ if $labels.instance }}replica {{ $labels.instance }}'s window
                  (the model's pooled window is under the threshold){{ else }}the window{{ end }}, above the critical
                  threshold
                  {{ with printf "model:drift_threshold_feature_out_of_range_ratio_critical:value{model=%q}" $labels.model | query }}{{ . | first | value | humanizePercentage }}{{ end }}.
                |||),
                runbook_url: '%(runbookBaseUrl)s#alert-name-modeldriftfeatureoutofrange' % $._config,
              },
            },
          ],
        },

        {
          name: 'drift-exporter-health',
          rules: [
            {
              alert: 'ModelDriftExporterDown',
              expr: 'up{%(jobSelector)s} == 0' % $._config,
              // 5 min = 20 failed scrapes at 15 s: rides out a sidecar restart or a
              // rolling deploy; monitoring is blind after that.
              'for': '5m',
              labels: {
                severity: 'warning',
              },
              annotations: {
                summary: 'Prometheus cannot scrape a drift-exporter sidecar.',
                description: lib.fold(|||
                  Prometheus has failed to scrape the drift-exporter sidecar {{ $labels.instance }}
                  (up = {{ $value }}); drift of the models it watches is not monitored.
                |||),
                runbook_url: '%(runbookBaseUrl)s#alert-name-modeldriftexporterdown' % $._config,
              },
            },
            {
              alert: 'ModelDriftExporterAbsent',
              expr: 'absent(up{%(jobSelector)s})' % $._config,
              // 10 min: long enough for Prometheus to start, discover and scrape targets
              // after a restart or a config reload.
              'for': '10m',
              labels: {
                severity: 'warning',
              },
              annotations: {
                summary: 'No drift-exporter target is being scraped.',
                description: lib.fold(|||
                  Prometheus has no target in job drift-exporter (absent = {{ $value }}): the scrape
                  config or service discovery lost the sidecar, and no model is monitored for drift.
                |||),
                runbook_url: '%(runbookBaseUrl)s#alert-name-modeldriftexporterabsent' % $._config,
              },
            },
            {
              alert: 'ModelDriftEvaluationStale',
              expr: 'time() - drift_last_evaluation_timestamp_seconds > 300',
              // The expression already tolerates 300 s (20 missed 15 s evaluations); 5 more
              // minutes covers one slow evaluation of a wide model.
              'for': '5m',
              labels: {
                severity: 'warning',
              },
              annotations: {
                summary: 'A model\'s drift gauges are no longer being refreshed.',
                description: lib.fold(|||
                  Model {{ $labels.model }} was last evaluated {{ $value | humanizeDuration }} ago on
                  replica {{ $labels.instance }}; that sidecar's drift gauges still show that
                  evaluation.
                |||),
                runbook_url: '%(runbookBaseUrl)s#alert-name-modeldriftevaluationstale' % $._config,
              },
            },
            {
              alert: 'ModelDriftEvaluationFailing',
              expr: 'drift_evaluation_success == 0',
              // 10 min = 40 failed evaluations in a row: a reference being replaced or one bad
              // snapshot fails once; a broken profile keeps failing.
              'for': '10m',
              labels: {
                severity: 'warning',
              },
              annotations: {
                summary: 'A model\'s drift evaluations keep failing.',
                description: lib.fold(|||
                  The drift evaluations of model {{ $labels.model }} keep failing on replica
                  {{ $labels.instance }} (drift_evaluation_success = {{ $value }}); that sidecar's
                  drift gauges are not current.
                |||),
                runbook_url: '%(runbookBaseUrl)s#alert-name-modeldriftevaluationfailing' % $._config,
              },
            },
            {
              alert: 'ModelDriftNoTraffic',
              expr: |||
                model:drift_records:pooled_rate5m == 0
                or
                (
                  model:drift_records:rate5m == 0
                  unless ignoring (instance, pod) (model:drift_records:pooled_rate5m == 0)
                )
              |||,
              // 15 min on top of the 5 min rate window: 20 minutes without one prediction
              // record is an outage upstream, not a quiet spell.
              'for': '15m',
              labels: {
                severity: 'warning',
              },
              annotations: {
                summary: 'A model\'s sidecar receives no prediction records.',
                description: lib.fold(|||
                  Model {{ $labels.model }} has accepted {{ $value }} prediction records per second
                  over the last 5 minutes{{ if $labels.instance }} on replica {{ $labels.instance }},
                  while its other replicas receive traffic: the load balancer or this replica's
                  serving path no longer forwards predictions to its sidecar.{{ else }}: the serving
                  path no longer forwards predictions to the sidecar.{{ end }}
                |||),
                runbook_url: '%(runbookBaseUrl)s#alert-name-modeldriftnotraffic' % $._config,
              },
            },
            {
              alert: 'ModelDriftWindowTooSmall',
              expr: 'model_feature:drift_window_records:pooled < model:drift_window_min_records:max',
              // 30 min: a fresh deploy or a restarted sidecar needs time to fill its window;
              // after half an hour the model is effectively unmonitored.
              'for': '30m',
              labels: {
                severity: 'warning',
              },
              annotations: {
                summary: 'A model\'s window holds too few records to judge drift.',
                description: lib.fold(|||
                  Model {{ $labels.model }} has {{ $value }} records in its window (all replicas
                  together), fewer than the
                  {{ with printf "model:drift_window_min_records:max{job=%q,namespace=%q,cluster=%q,model=%q}" $labels.job $labels.namespace $labels.cluster $labels.model | query }}{{ . | first | value }}{{ end }}
                  it needs; its drift is not judged.
                |||),
                runbook_url: '%(runbookBaseUrl)s#alert-name-modeldriftwindowtoosmall' % $._config,
              },
            },

            {
              alert: 'ModelDriftReferenceMismatch',
              expr: |||
                model_feature:drift_feature_reference_bins:mismatched > 0
                or model:drift_prediction_reference_bins:mismatched > 0
              |||,
              // 15 min: a rolling deploy of a new reference passes through a mix of old and new
              // replicas for a few minutes; a mix that stays is a replica left behind.
              'for': '15m',
              labels: {
                severity: 'warning',
              },
              annotations: {
                summary: 'A model\'s replicas hold different references, so its drift cannot be pooled.',
                description: lib.fold(|||
                  The replicas of model {{ $labels.model }} report different reference bins for
                  {{ if $labels.feature }}feature {{ $labels.feature }}{{ else }}the prediction{{ end }}
                  ({{ $value }} bins differ): no pooled drift statistic is computed for it until
                  they load the same reference.
                |||),
                runbook_url: '%(runbookBaseUrl)s#alert-name-modeldriftreferencemismatch' % $._config,
              },
            },
          ],
        },

        {
          name: 'drift-performance',
          rules: [
            // ModelDriftPerformanceDrop: Realised performance on labelled traffic below the reference's.
            {
              alert: 'ModelDriftPerformanceDrop',
              expr: |||
                (
                  (
                    (model:drift_reference_performance_accuracy:max - model:drift_performance_accuracy:pooled)
                      > on (%(groupLabels)s) group_left ()
                    model:drift_threshold_performance_accuracy_drop_warning:value
                  )
                  >
                  (
                    model:drift_performance_accuracy_drop_stderr:pooled
                      * on (%(groupLabels)s) group_left ()
                    model:drift_threshold_performance_drop_standard_errors:value
                  )
                  or
                  (
                    (model:drift_performance_rmse:pooled / model:drift_reference_performance_rmse:max - 1)
                      > on (%(groupLabels)s) group_left ()
                    model:drift_threshold_performance_rmse_increase_ratio_warning:value
                  )
                  >
                  (
                    model:drift_performance_rmse_increase_ratio_stderr:pooled
                      * on (%(groupLabels)s) group_left ()
                    model:drift_threshold_performance_drop_standard_errors:value
                  )
                )
                # The model's labelled window over all replicas (same job, model, deployment labels).
                and (model:drift_labelled_window_records:pooled >= model:drift_performance_min_labels:max)
              ||| % $._config,
              // 15 min = 60 evaluations at 15 s that all agree: labels arrive in batches, and one
              // batch of hard cases moving the window briefly never pages.
              'for': '15m',
              labels: {
                severity: 'warning',
              },
              annotations: {
                summary: 'A model performs worse on labelled traffic than on its reference.',
                description: lib.fold(|||
                  Model {{ $labels.model }} performs {{ $value | printf "%.3f" }} worse over its
                  labelled window than on its reference (accuracy points for a classifier, relative
                  RMSE increase for a regressor), beyond the warning margin.
                |||),
                runbook_url: '%(runbookBaseUrl)s#alert-name-modeldriftperformancedrop' % $._config,
              },
            },
            {
              alert: 'ModelDriftPerformanceDrop',
              expr: |||
                (
                  (
                    (model:drift_reference_performance_accuracy:max - model:drift_performance_accuracy:pooled)
                      > on (%(groupLabels)s) group_left ()
                    model:drift_threshold_performance_accuracy_drop_critical:value
                  )
                  >
                  (
                    model:drift_performance_accuracy_drop_stderr:pooled
                      * on (%(groupLabels)s) group_left ()
                    model:drift_threshold_performance_drop_standard_errors:value
                  )
                  or
                  (
                    (model:drift_performance_rmse:pooled / model:drift_reference_performance_rmse:max - 1)
                      > on (%(groupLabels)s) group_left ()
                    model:drift_threshold_performance_rmse_increase_ratio_critical:value
                  )
                  >
                  (
                    model:drift_performance_rmse_increase_ratio_stderr:pooled
                      * on (%(groupLabels)s) group_left ()
                    model:drift_threshold_performance_drop_standard_errors:value
                  )
                )
                # The model's labelled window over all replicas (same job, model, deployment labels).
                and (model:drift_labelled_window_records:pooled >= model:drift_performance_min_labels:max)
              ||| % $._config,
              // 10 min = 40 agreeing evaluations: a drop this large costs decisions now, so page
              // sooner than the warning, but never on one evaluation.
              'for': '10m',
              labels: {
                severity: 'critical',
              },
              annotations: {
                summary: 'A model performs worse on labelled traffic than on its reference.',
                description: lib.fold(|||
                  Model {{ $labels.model }} performs {{ $value | printf "%.3f" }} worse over its
                  labelled window than on its reference (accuracy points for a classifier, relative
                  RMSE increase for a regressor), beyond the critical margin.
                |||),
                runbook_url: '%(runbookBaseUrl)s#alert-name-modeldriftperformancedrop' % $._config,
              },
            },

            // ModelDriftEstimatedPerformanceDrop: Label-free accuracy estimate (CBPE, classifiers) below
            // the reference's accuracy, or label-free RMSE estimate (direct loss estimation,
            // regressors) above the reference's RMSE, beyond the margin and 3 standard errors.
            // Critical: pages and calls the retraining webhook (impact estimated before the labels
            // arrive).
            {
              alert: 'ModelDriftEstimatedPerformanceDrop',
              expr: |||
                (
                  (
                    (model:drift_reference_performance_accuracy:max - model:drift_estimated_accuracy:pooled)
                      > on (%(groupLabels)s) group_left ()
                    model:drift_threshold_estimated_accuracy_drop_warning:value
                  )
                  >
                  (
                    model:drift_estimated_accuracy_drop_stderr:pooled
                      * on (%(groupLabels)s) group_left ()
                    model:drift_threshold_performance_drop_standard_errors:value
                  )
                  or
                  (
                    (model:drift_estimated_rmse:pooled / model:drift_reference_performance_rmse:max - 1)
                      > on (%(groupLabels)s) group_left ()
                    model:drift_threshold_estimated_rmse_increase_ratio_warning:value
                  )
                  >
                  (
                    model:drift_estimated_rmse_increase_ratio_stderr:pooled
                      * on (%(groupLabels)s) group_left ()
                    model:drift_threshold_performance_drop_standard_errors:value
                  )
                )
                and (model_feature:drift_window_records:pooled >= model:drift_window_min_records:max)
              ||| % $._config,
              // 15 min = 60 evaluations at 15 s that all agree: the estimate moves with the
              // window's score distribution, which drifts slowly; one odd batch never pages.
              'for': '15m',
              labels: {
                severity: 'warning',
              },
              annotations: {
                summary: 'A model\'s performance, estimated without labels, has fallen below its reference performance.',
                description: lib.fold(|||
                  {{ if printf "model:drift_estimated_rmse:pooled{job=%q,namespace=%q,cluster=%q,model=%q}" $labels.job $labels.namespace $labels.cluster $labels.model | query }}The RMSE of
                  model {{ $labels.model }} estimated from its recent predictions is
                  {{ $value | humanizePercentage }} above its reference RMSE
                  {{ with printf "model:drift_reference_performance_rmse:max{job=%q,namespace=%q,cluster=%q,model=%q}" $labels.job $labels.namespace $labels.cluster $labels.model | query }}{{ . | first | value | printf "%.4g" }}{{ end }},
                  more than the warning margin
                  {{ with printf "model:drift_threshold_estimated_rmse_increase_ratio_warning:value{model=%q}" $labels.model | query }}{{ . | first | value | humanizePercentage }}{{ end }}
                  and than its sampling error allows.{{ else }}The accuracy of model
                  {{ $labels.model }} estimated from its recent scores is
                  {{ $value | printf "%.3f" }} below its reference accuracy
                  {{ with printf "model:drift_reference_performance_accuracy:max{job=%q,namespace=%q,cluster=%q,model=%q}" $labels.job $labels.namespace $labels.cluster $labels.model | query }}{{ . | first | value | printf "%.3f" }}{{ end }},
                  more than the warning margin
                  {{ with printf "model:drift_threshold_estimated_accuracy_drop_warning:value{model=%q}" $labels.model | query }}{{ . | first | value | printf "%.3g" }}{{ end }}
                  and than its sampling error allows.{{ end }}
                |||),
                runbook_url: '%(runbookBaseUrl)s#alert-name-modeldriftestimatedperformancedrop' % $._config,
              },
            },
            {
              alert: 'ModelDriftEstimatedPerformanceDrop',
              expr: |||
                (
                  (
                    (model:drift_reference_performance_accuracy:max - model:drift_estimated_accuracy:pooled)
                      > on (%(groupLabels)s) group_left ()
                    model:drift_threshold_estimated_accuracy_drop_critical:value
                  )
                  >
                  (
                    model:drift_estimated_accuracy_drop_stderr:pooled
                      * on (%(groupLabels)s) group_left ()
                    model:drift_threshold_performance_drop_standard_errors:value
                  )
                  or
                  (
                    (model:drift_estimated_rmse:pooled / model:drift_reference_performance_rmse:max - 1)
                      > on (%(groupLabels)s) group_left ()
                    model:drift_threshold_estimated_rmse_increase_ratio_critical:value
                  )
                  >
                  (
                    model:drift_estimated_rmse_increase_ratio_stderr:pooled
                      * on (%(groupLabels)s) group_left ()
                    model:drift_threshold_performance_drop_standard_errors:value
                  )
                )
                and (model_feature:drift_window_records:pooled >= model:drift_window_min_records:max)
              ||| % $._config,
              // 15 min = 60 agreeing evaluations, as the warning: a page needs a drop that stays, and
              // an estimate beyond 0.1 and 3 standard errors for a quarter of an hour does.
              'for': '15m',
              labels: {
                severity: 'critical',
              },
              annotations: {
                summary: 'A model\'s performance, estimated without labels, has fallen below its reference performance.',
                description: lib.fold(|||
                  {{ if printf "model:drift_estimated_rmse:pooled{job=%q,namespace=%q,cluster=%q,model=%q}" $labels.job $labels.namespace $labels.cluster $labels.model | query }}The RMSE of
                  model {{ $labels.model }} estimated from its recent predictions is
                  {{ $value | humanizePercentage }} above its reference RMSE
                  {{ with printf "model:drift_reference_performance_rmse:max{job=%q,namespace=%q,cluster=%q,model=%q}" $labels.job $labels.namespace $labels.cluster $labels.model | query }}{{ . | first | value | printf "%.4g" }}{{ end }},
                  more than the critical margin
                  {{ with printf "model:drift_threshold_estimated_rmse_increase_ratio_critical:value{model=%q}" $labels.model | query }}{{ . | first | value | humanizePercentage }}{{ end }}
                  and than its sampling error allows.{{ else }}The accuracy of model
                  {{ $labels.model }} estimated from its recent scores is
                  {{ $value | printf "%.3f" }} below its reference accuracy
                  {{ with printf "model:drift_reference_performance_accuracy:max{job=%q,namespace=%q,cluster=%q,model=%q}" $labels.job $labels.namespace $labels.cluster $labels.model | query }}{{ . | first | value | printf "%.3f" }}{{ end }},
                  more than the critical margin
                  {{ with printf "model:drift_threshold_estimated_accuracy_drop_critical:value{model=%q}" $labels.model | query }}{{ . | first | value | printf "%.3g" }}{{ end }}
                  and than its sampling error allows.{{ end }}
                |||),
                runbook_url: '%(runbookBaseUrl)s#alert-name-modeldriftestimatedperformancedrop' % $._config,
              },
            },

            // ModelDriftConceptDrift: A change detector fired on the model's per-record error stream.
            {
              alert: 'ModelDriftConceptDrift',
              // Summed over replicas: one alert per model and detector, however many replicas saw it.
              expr: 'sum without (%(replicaLabelNames)s) (increase(drift_concept_drift_detections_total[30m])) > 0' % $._config,
              // 1 min: the detectors already demand a sustained change (ADWIN's significance test,
              // Page-Hinkley's cumulative threshold, DDM's three standard deviations); the 30 min
              // window then keeps the alert up long enough to be seen and routed.
              'for': '1m',
              labels: {
                severity: 'warning',
              },
              annotations: {
                summary: 'A change detector found a change in a model\'s errors on labelled traffic.',
                description: lib.fold(|||
                  The {{ $labels.detector }} detector found a change in the per-record error of model
                  {{ $labels.model }}: {{ $value | printf "%.0f" }} detection(s) in the last 30
                  minutes, all replicas together.
                |||),
                runbook_url: '%(runbookBaseUrl)s#alert-name-modeldriftconceptdrift' % $._config,
              },
            },
          ],
        },

        // The alerting pipeline's heartbeat (the kube-prometheus convention): always firing, so
        // Alertmanager, and whatever dead man's switch it is routed to, can tell a silent Prometheus
        // from a quiet fleet. Severity none: it pages nobody (alertmanager.yml routes it apart).
        {
          name: 'drift-watchdog',
          rules: [
            {
              alert: 'Watchdog',
              expr: 'vector(1)',
              labels: {
                severity: 'none',
              },
              annotations: {
                summary: 'An alert that always fires, to prove the alerting pipeline works.',
                description: lib.fold(|||
                  This alert is always firing (value {{ $value }}). If it stops arriving, Prometheus
                  cannot evaluate rules or reach Alertmanager, and no other alert would arrive either.
                |||),
                runbook_url: '%(runbookBaseUrl)s#alert-name-watchdog' % $._config,
              },
            },
          ],
        },
      ],
    },
  },
}
