// The one place for the selectors of drift-exporter's rules and dashboards (issue 14, item 4).
// Override any of these in your own jsonnet (`mixin + { _config+:: { ... } }`) or with
// `python3 deploy/mixin/render.py --config overrides.json`.
{
  _config+:: {
    // Selects the sidecars' scrape job. Under prometheus-operator the job is the Service or
    // PodMonitor name, e.g. 'job="model-a-drift"' or 'job=~".*-drift-exporter"'.
    jobSelector: 'job="drift-exporter"',

    // The labels that tell deployments apart: two models of the same name in different
    // clusters or namespaces are different models. Thresholds and every join that names
    // `model` carry them (and job); a label a target does not have is empty in PromQL and
    // matches empty, so listing one you do not use is harmless. An empty list is allowed.
    deploymentLabels: ['cluster', 'namespace'],

    // The labels that tell replicas of one deployment apart: what a pooled rule sums away.
    replicaLabels: ['instance', 'pod'],

    // The runbook page; each alert links <runbookBaseUrl>#alert-name-<alert name in lower case>.
    runbookBaseUrl: 'https://github.com/drift-exporter/drift-exporter/blob/main/docs/runbook.md',

    // Derived (override the lists above, not these).
    // The labels of one model of one deployment: thresholds `group by` them and the
    // alerts join thresholds `on` them.
    groupLabels: std.join(', ', self.deploymentLabels + ['job', 'model']),
    // `without (...)` of the pooled rules.
    replicaLabelNames: std.join(', ', self.replicaLabels),
  },
}
