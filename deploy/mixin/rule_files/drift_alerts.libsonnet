// Alerts for drift-exporter. Naming, severities and annotations follow STYLE.md.
//
// Drift (features, prediction, share of features):
//   - one meaning of "drifted", recorded in drift_recording.yml (group drift-decisions):
//     statistic >= the model's floor (drift_thresholds.yml, overridable per model in
//     drift_threshold_overrides.yml) AND >= the no-drift critical value the sidecar exports at
//     this window's size, AND the feature was judged, AND this sidecar's window is full enough;
//   - fresh evidence: the condition held through a full window turnover (15 min of a window's
//     worth of new records, or 65 min = window.duration_seconds + one slice);
//   - drift alone is a warning (a ticket). Pages need impact: a realised or estimated
//     performance drop beyond its sampling error, or a severe prediction drift
//     (docs/runbook.md, "What pages and what files a ticket").
// Data quality: the ratio above a per-model threshold, gated on this sidecar's window holding
// its minimum of records (the exporter publishes these gauges whenever the window is non-empty),
// for a `for:` long enough that one bad batch never pages.
// Every gate joins on the series' own labels (job, instance, model): replicas are judged apart.
// Warning and critical share an alert name; Alertmanager inhibits the warning while the
// critical fires for the same sidecar, model (and feature).
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
                feature:drift_feature_psi:drifted
                and (
                  (
                    time() - feature:drift_feature_psi:drifted_since >= 900
                    and ignoring (feature) (increase(drift_records_total[15m]) >= drift_window_records)
                  )
                  or time() - feature:drift_feature_psi:drifted_since >= 3900
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
                  {{ with printf "drift_feature_psi_critical{instance=%q,model=%q,feature=%q}" $labels.instance $labels.model $labels.feature | query }}{{ . | first | value | printf "%.3g" }}{{ end }} at this window's size.
                |||),
                runbook_url: '%(runbookBaseUrl)s#alert-name-modeldriftfeatureshift' % $._config,
              },
            },

            // ModelDriftFeatureJensenShannon: Feature drift by Jensen-Shannon distance (base 2, 0..1).
            {
              alert: 'ModelDriftFeatureJensenShannon',
              expr: |||
                feature:drift_feature_jensen_shannon:drifted
                and (
                  (
                    time() - feature:drift_feature_jensen_shannon:drifted_since >= 900
                    and ignoring (feature) (increase(drift_records_total[15m]) >= drift_window_records)
                  )
                  or time() - feature:drift_feature_jensen_shannon:drifted_since >= 3900
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
                  {{ with printf "drift_feature_jensen_shannon_critical{instance=%q,model=%q,feature=%q}" $labels.instance $labels.model $labels.feature | query }}{{ . | first | value | printf "%.3g" }}{{ end }} at this window's size.
                |||),
                runbook_url: '%(runbookBaseUrl)s#alert-name-modeldriftfeaturejensenshannon' % $._config,
              },
            },

            // ModelDriftFeatureWasserstein: Numeric feature drift by Wasserstein-1 distance over the reference standard deviation.
            {
              alert: 'ModelDriftFeatureWasserstein',
              expr: |||
                feature:drift_feature_wasserstein_normalized:drifted
                and (
                  (
                    time() - feature:drift_feature_wasserstein_normalized:drifted_since >= 900
                    and ignoring (feature) (increase(drift_records_total[15m]) >= drift_window_records)
                  )
                  or time() - feature:drift_feature_wasserstein_normalized:drifted_since >= 3900
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
                  Feature {{ $labels.feature }} of model {{ $labels.model }} has moved
                  {{ $value | printf "%.3f" }} reference standard deviations (W1 / std), at or above
                  both its floor {{ with printf "model:drift_threshold_feature_wasserstein_normalized_warning:value{model=%q}" $labels.model | query }}{{ . | first | value | printf "%.3g" }}{{ end }} and its no-drift critical value
                  {{ with printf "drift_feature_wasserstein_normalized_critical{instance=%q,model=%q,feature=%q}" $labels.instance $labels.model $labels.feature | query }}{{ . | first | value | printf "%.3g" }}{{ end }} at this window's size.
                |||),
                runbook_url: '%(runbookBaseUrl)s#alert-name-modeldriftfeaturewasserstein' % $._config,
              },
            },

            // ModelDriftManyFeaturesDrifted: Share of features the exporter flags as drifted.
            {
              alert: 'ModelDriftManyFeaturesDrifted',
              expr: |||
                model:drift_features_drifted_ratio:many
                and (
                  (
                    time() - model:drift_features_drifted_ratio:many_since >= 900
                    and (increase(drift_records_total[15m]) >= drift_window_records)
                  )
                  or time() - model:drift_features_drifted_ratio:many_since >= 3900
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
                model:drift_prediction_psi:drifted
                and (
                  (
                    time() - model:drift_prediction_psi:drifted_since >= 900
                    and (increase(drift_records_total[15m]) >= drift_window_records)
                  )
                  or time() - model:drift_prediction_psi:drifted_since >= 3900
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
                  and the no-drift critical value {{ with printf "drift_prediction_psi_critical{instance=%q,model=%q}" $labels.instance $labels.model | query }}{{ . | first | value | printf "%.3g" }}{{ end }} at this window's size.
                |||),
                runbook_url: '%(runbookBaseUrl)s#alert-name-modeldriftpredictionshift' % $._config,
              },
            },
            // Critical: SEVERE prediction drift (severe floor, PSI 0.1 ~ 0.3 std): the model's output
            // moved enough to change decisions. Impact without labels: pages, calls the retraining webhook.
            {
              alert: 'ModelDriftPredictionShift',
              expr: |||
                model:drift_prediction_psi:severe
                and (
                  (
                    time() - model:drift_prediction_psi:severe_since >= 900
                    and (increase(drift_records_total[15m]) >= drift_window_records)
                  )
                  or time() - model:drift_prediction_psi:severe_since >= 3900
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
                  and the no-drift critical value {{ with printf "drift_prediction_psi_critical{instance=%q,model=%q}" $labels.instance $labels.model | query }}{{ . | first | value | printf "%.3g" }}{{ end }} at this window's size.
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
                (
                  drift_feature_missing_ratio
                    > on (%(groupLabels)s) group_left ()
                  model:drift_threshold_feature_missing_ratio_warning:value
                )
                and ignoring (feature)
                (drift_window_records >= drift_window_min_records)
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
                  {{ $value | humanizePercentage }} of the window, above the warning threshold
                  {{ with printf "model:drift_threshold_feature_missing_ratio_warning:value{model=%q}" $labels.model | query }}{{ . | first | value | humanizePercentage }}{{ end }}.
                |||),
                runbook_url: '%(runbookBaseUrl)s#alert-name-modeldriftfeaturemissingvalues' % $._config,
              },
            },
            {
              alert: 'ModelDriftFeatureMissingValues',
              expr: |||
                (
                  drift_feature_missing_ratio
                    > on (%(groupLabels)s) group_left ()
                  model:drift_threshold_feature_missing_ratio_critical:value
                )
                and ignoring (feature)
                (drift_window_records >= drift_window_min_records)
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
                  {{ $value | humanizePercentage }} of the window, above the critical threshold
                  {{ with printf "model:drift_threshold_feature_missing_ratio_critical:value{model=%q}" $labels.model | query }}{{ . | first | value | humanizePercentage }}{{ end }}.
                |||),
                runbook_url: '%(runbookBaseUrl)s#alert-name-modeldriftfeaturemissingvalues' % $._config,
              },
            },

            // ModelDriftFeatureTypeMismatch: Data quality: values whose type does not match the reference (schema break).
            {
              alert: 'ModelDriftFeatureTypeMismatch',
              expr: |||
                (
                  drift_feature_type_mismatch_ratio
                    > on (%(groupLabels)s) group_left ()
                  model:drift_threshold_feature_type_mismatch_ratio_warning:value
                )
                and ignoring (feature)
                (drift_window_records >= drift_window_min_records)
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
                  {{ $value | humanizePercentage }} of the window, above the warning threshold
                  {{ with printf "model:drift_threshold_feature_type_mismatch_ratio_warning:value{model=%q}" $labels.model | query }}{{ . | first | value | humanizePercentage }}{{ end }}.
                |||),
                runbook_url: '%(runbookBaseUrl)s#alert-name-modeldriftfeaturetypemismatch' % $._config,
              },
            },
            {
              alert: 'ModelDriftFeatureTypeMismatch',
              expr: |||
                (
                  drift_feature_type_mismatch_ratio
                    > on (%(groupLabels)s) group_left ()
                  model:drift_threshold_feature_type_mismatch_ratio_critical:value
                )
                and ignoring (feature)
                (drift_window_records >= drift_window_min_records)
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
                  {{ $value | humanizePercentage }} of the window, above the critical threshold
                  {{ with printf "model:drift_threshold_feature_type_mismatch_ratio_critical:value{model=%q}" $labels.model | query }}{{ . | first | value | humanizePercentage }}{{ end }}.
                |||),
                runbook_url: '%(runbookBaseUrl)s#alert-name-modeldriftfeaturetypemismatch' % $._config,
              },
            },

            // ModelDriftFeatureUnseenCategories: Data quality: categories absent from the reference (categorical features).
            {
              alert: 'ModelDriftFeatureUnseenCategories',
              expr: |||
                (
                  drift_feature_unseen_category_ratio
                    > on (%(groupLabels)s) group_left ()
                  model:drift_threshold_feature_unseen_category_ratio_warning:value
                )
                and ignoring (feature)
                (drift_window_records >= drift_window_min_records)
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
                  {{ $value | humanizePercentage }} of the window, above the warning threshold
                  {{ with printf "model:drift_threshold_feature_unseen_category_ratio_warning:value{model=%q}" $labels.model | query }}{{ . | first | value | humanizePercentage }}{{ end }}.
                |||),
                runbook_url: '%(runbookBaseUrl)s#alert-name-modeldriftfeatureunseencategories' % $._config,
              },
            },
            {
              alert: 'ModelDriftFeatureUnseenCategories',
              expr: |||
                (
                  drift_feature_unseen_category_ratio
                    > on (%(groupLabels)s) group_left ()
                  model:drift_threshold_feature_unseen_category_ratio_critical:value
                )
                and ignoring (feature)
                (drift_window_records >= drift_window_min_records)
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
                  {{ $value | humanizePercentage }} of the window, above the critical threshold
                  {{ with printf "model:drift_threshold_feature_unseen_category_ratio_critical:value{model=%q}" $labels.model | query }}{{ . | first | value | humanizePercentage }}{{ end }}.
                |||),
                runbook_url: '%(runbookBaseUrl)s#alert-name-modeldriftfeatureunseencategories' % $._config,
              },
            },

            // ModelDriftFeatureOutOfRange: Data quality: values outside the reference min..max (numeric features).
            {
              alert: 'ModelDriftFeatureOutOfRange',
              expr: |||
                (
                  drift_feature_out_of_range_ratio
                    > on (%(groupLabels)s) group_left ()
                  model:drift_threshold_feature_out_of_range_ratio_warning:value
                )
                and ignoring (feature)
                (drift_window_records >= drift_window_min_records)
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
                  min..max in {{ $value | humanizePercentage }} of the window, above the warning
                  threshold
                  {{ with printf "model:drift_threshold_feature_out_of_range_ratio_warning:value{model=%q}" $labels.model | query }}{{ . | first | value | humanizePercentage }}{{ end }}.
                |||),
                runbook_url: '%(runbookBaseUrl)s#alert-name-modeldriftfeatureoutofrange' % $._config,
              },
            },
            {
              alert: 'ModelDriftFeatureOutOfRange',
              expr: |||
                (
                  drift_feature_out_of_range_ratio
                    > on (%(groupLabels)s) group_left ()
                  model:drift_threshold_feature_out_of_range_ratio_critical:value
                )
                and ignoring (feature)
                (drift_window_records >= drift_window_min_records)
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
                  min..max in {{ $value | humanizePercentage }} of the window, above the critical
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
                  Model {{ $labels.model }} was last evaluated {{ $value | humanizeDuration }} ago;
                  its drift gauges still show that evaluation.
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
                  The drift evaluations of model {{ $labels.model }} keep failing
                  (drift_evaluation_success = {{ $value }}); its drift gauges are not current.
                |||),
                runbook_url: '%(runbookBaseUrl)s#alert-name-modeldriftevaluationfailing' % $._config,
              },
            },
            {
              alert: 'ModelDriftNoTraffic',
              expr: 'model:drift_records:rate5m == 0',
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
                  over the last 5 minutes: the serving path no longer forwards predictions to the
                  sidecar.
                |||),
                runbook_url: '%(runbookBaseUrl)s#alert-name-modeldriftnotraffic' % $._config,
              },
            },
            {
              alert: 'ModelDriftWindowTooSmall',
              expr: 'drift_window_records < drift_window_min_records',
              // 30 min: a fresh deploy or a restarted sidecar needs time to fill its window;
              // after half an hour the model is effectively unmonitored.
              'for': '30m',
              labels: {
                severity: 'warning',
              },
              annotations: {
                summary: 'A model\'s window holds too few records to judge drift.',
                description: lib.fold(|||
                  Model {{ $labels.model }} has {{ $value }} records in its window, fewer than the
                  {{ with printf "drift_window_min_records{model=%q}" $labels.model | query }}{{ . | first | value }}{{ end }}
                  it needs; no drift gauges are published for it.
                |||),
                runbook_url: '%(runbookBaseUrl)s#alert-name-modeldriftwindowtoosmall' % $._config,
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
                    (drift_reference_performance_accuracy - drift_performance_accuracy)
                      > on (%(groupLabels)s) group_left ()
                    model:drift_threshold_performance_accuracy_drop_warning:value
                  )
                  >
                  (
                    model:drift_performance_accuracy_drop:stderr
                      * on (%(groupLabels)s) group_left ()
                    model:drift_threshold_performance_drop_standard_errors:value
                  )
                  or
                  (
                    (drift_performance_rmse / drift_reference_performance_rmse - 1)
                      > on (%(groupLabels)s) group_left ()
                    model:drift_threshold_performance_rmse_increase_ratio_warning:value
                  )
                  >
                  (
                    model:drift_performance_rmse_increase_ratio:stderr
                      * on (%(groupLabels)s) group_left ()
                    model:drift_threshold_performance_drop_standard_errors:value
                  )
                )
                # This sidecar's labelled window (same job, instance, model), never another replica's.
                and (drift_labelled_window_records >= drift_performance_min_labels)
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
                    (drift_reference_performance_accuracy - drift_performance_accuracy)
                      > on (%(groupLabels)s) group_left ()
                    model:drift_threshold_performance_accuracy_drop_critical:value
                  )
                  >
                  (
                    model:drift_performance_accuracy_drop:stderr
                      * on (%(groupLabels)s) group_left ()
                    model:drift_threshold_performance_drop_standard_errors:value
                  )
                  or
                  (
                    (drift_performance_rmse / drift_reference_performance_rmse - 1)
                      > on (%(groupLabels)s) group_left ()
                    model:drift_threshold_performance_rmse_increase_ratio_critical:value
                  )
                  >
                  (
                    model:drift_performance_rmse_increase_ratio:stderr
                      * on (%(groupLabels)s) group_left ()
                    model:drift_threshold_performance_drop_standard_errors:value
                  )
                )
                # This sidecar's labelled window (same job, instance, model), never another replica's.
                and (drift_labelled_window_records >= drift_performance_min_labels)
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
                    (drift_reference_performance_accuracy - drift_estimated_accuracy)
                      > on (%(groupLabels)s) group_left ()
                    model:drift_threshold_estimated_accuracy_drop_warning:value
                  )
                  >
                  (
                    model:drift_estimated_accuracy_drop:stderr
                      * on (%(groupLabels)s) group_left ()
                    model:drift_threshold_performance_drop_standard_errors:value
                  )
                  or
                  (
                    (drift_estimated_rmse / drift_reference_performance_rmse - 1)
                      > on (%(groupLabels)s) group_left ()
                    model:drift_threshold_estimated_rmse_increase_ratio_warning:value
                  )
                  >
                  (
                    model:drift_estimated_rmse_increase_ratio:stderr
                      * on (%(groupLabels)s) group_left ()
                    model:drift_threshold_performance_drop_standard_errors:value
                  )
                )
                and (drift_window_records >= drift_window_min_records)
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
                  {{ if printf "drift_estimated_rmse{model=%q}" $labels.model | query }}The RMSE of
                  model {{ $labels.model }} estimated from its recent predictions is
                  {{ $value | humanizePercentage }} above its reference RMSE
                  {{ with printf "drift_reference_performance_rmse{model=%q}" $labels.model | query }}{{ . | first | value | printf "%.4g" }}{{ end }},
                  more than the warning margin
                  {{ with printf "model:drift_threshold_estimated_rmse_increase_ratio_warning:value{model=%q}" $labels.model | query }}{{ . | first | value | humanizePercentage }}{{ end }}
                  and than its sampling error allows.{{ else }}The accuracy of model
                  {{ $labels.model }} estimated from its recent scores is
                  {{ $value | printf "%.3f" }} below its reference accuracy
                  {{ with printf "drift_reference_performance_accuracy{model=%q}" $labels.model | query }}{{ . | first | value | printf "%.3f" }}{{ end }},
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
                    (drift_reference_performance_accuracy - drift_estimated_accuracy)
                      > on (%(groupLabels)s) group_left ()
                    model:drift_threshold_estimated_accuracy_drop_critical:value
                  )
                  >
                  (
                    model:drift_estimated_accuracy_drop:stderr
                      * on (%(groupLabels)s) group_left ()
                    model:drift_threshold_performance_drop_standard_errors:value
                  )
                  or
                  (
                    (drift_estimated_rmse / drift_reference_performance_rmse - 1)
                      > on (%(groupLabels)s) group_left ()
                    model:drift_threshold_estimated_rmse_increase_ratio_critical:value
                  )
                  >
                  (
                    model:drift_estimated_rmse_increase_ratio:stderr
                      * on (%(groupLabels)s) group_left ()
                    model:drift_threshold_performance_drop_standard_errors:value
                  )
                )
                and (drift_window_records >= drift_window_min_records)
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
                  {{ if printf "drift_estimated_rmse{model=%q}" $labels.model | query }}The RMSE of
                  model {{ $labels.model }} estimated from its recent predictions is
                  {{ $value | humanizePercentage }} above its reference RMSE
                  {{ with printf "drift_reference_performance_rmse{model=%q}" $labels.model | query }}{{ . | first | value | printf "%.4g" }}{{ end }},
                  more than the critical margin
                  {{ with printf "model:drift_threshold_estimated_rmse_increase_ratio_critical:value{model=%q}" $labels.model | query }}{{ . | first | value | humanizePercentage }}{{ end }}
                  and than its sampling error allows.{{ else }}The accuracy of model
                  {{ $labels.model }} estimated from its recent scores is
                  {{ $value | printf "%.3f" }} below its reference accuracy
                  {{ with printf "drift_reference_performance_accuracy{model=%q}" $labels.model | query }}{{ . | first | value | printf "%.3f" }}{{ end }},
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
              expr: 'increase(drift_concept_drift_detections_total[30m]) > 0',
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
                  minutes.
                |||),
                runbook_url: '%(runbookBaseUrl)s#alert-name-modeldriftconceptdrift' % $._config,
              },
            },
          ],
        },
      ],
    },
  },
}
