// Helpers of the drift-exporter mixin (no configuration here; see config.libsonnet).
local shippedJobSelector = 'job="drift-exporter"';  // what the JSON dashboards are written with
local shippedDeploymentLabels = ['cluster', 'namespace'];  // their deployment variables

// The JSON dashboards under other `deploymentLabels`: every string that selects, groups,
// labels or links by the shipped `cluster` and `namespace` variables does so by `labels`
// instead (prose is left alone: only these exact forms change), and the `cluster` and
// `namespace` variables become one variable a label, each listing the values under the
// labels before it.
local selector(labels) = std.join(', ', ['%s=~"$%s"' % [l, l] for l in labels]);
local relabelString(text, labels) =
  local shipped = selector(shippedDeploymentLabels);
  local steps = [
    [', ' + shipped, std.join('', [', ' + selector([l]) for l in labels])],
    [shipped + ', ', std.join('', [selector([l]) + ', ' for l in labels])],
    ['by (cluster, namespace, ', std.join('', ['by ('] + [l + ', ' for l in labels])],
    [' {{namespace}} {{cluster}}', std.join('', [' {{%s}}' % l for l in std.reverse(labels)])],
    ['&${cluster:queryparam}&${namespace:queryparam}', std.join('', ['&${%s:queryparam}' % l for l in labels])],
  ];
  std.foldl(function(acc, step) std.strReplace(acc, step[0], step[1]), steps, text);
local relabel(value, labels) =
  if std.isString(value) then relabelString(value, labels)
  else if std.isArray(value) then [relabel(v, labels) for v in value]
  else if std.isObject(value) then
    // a table's column switches (excludeByName and the like) name the labels as keys
    local switches = std.all([std.isBoolean(std.get(value, l)) for l in shippedDeploymentLabels]);
    if switches then
      { [k]: value[k] for k in std.objectFields(value) if !std.member(shippedDeploymentLabels, k) }
      + { [l]: value.cluster for l in labels }
    else { [k]: relabel(value[k], labels) for k in std.objectFields(value) }
  else value;
local deploymentVariables(template, labels) = [
  local q = 'label_values(drift_window_records%s, %s)' % [
    if i == 0 then '' else '{' + selector(labels[:i]) + '}',
    labels[i],
  ];
  template {
    name: labels[i],
    label: labels[i],
    description: 'A deployment label (%s), if the series have it. All is the regex .*, which also matches series without it.' % labels[i],
    definition: q,
    query: if std.isObject(template.query) then template.query { query: q } else q,
  }
  for i in std.range(0, std.length(labels) - 1)
];
local withDeploymentLabels(dashboard, labels) =
  if labels == shippedDeploymentLabels || !std.objectHas(dashboard, 'templating') then dashboard
  else
    local variables = dashboard.templating.list;
    local cluster = [v for v in variables if std.get(v, 'name') == 'cluster'];
    assert std.length(cluster) == 1 : 'a dashboard with deployment variables needs one `cluster` variable to copy';
    local relabelled = relabel(dashboard, labels);
    relabelled {
      templating+: {
        list: std.flattenArrays([
          if std.get(v, 'name') == 'cluster' then deploymentVariables(cluster[0], labels)
          else if std.get(v, 'name') == 'namespace' then []
          else [v]
          for v in relabelled.templating.list
        ]),
      },
    };

{
  // A YAML folded scalar (`>-`): the lines of `text` joined by single spaces. The rule sources
  // keep long annotations on several lines this way; the rendered YAML holds one string.
  // (std.strReplace is native; std.split and std.rstripChars are slow jsonnet in the C++ build.)
  fold(text)::
    local body = if std.endsWith(text, '\n') then std.substr(text, 0, std.length(text) - 1) else text;
    std.strReplace(body, '\n', ' '),

  // Does this rule group hold an alert? Such groups are prometheusAlerts, the rest
  // prometheusRules (the monitoring-mixin convention).
  hasAlert(group):: std.length([r for r in std.get(group, 'rules', []) if std.objectHas(r, 'alert')]) > 0,

  // One dashboard of deploy/grafana/dashboards (`name`, parsed) under `config`:
  //   - `job="drift-exporter"` in any query (panel targets, rows' panels, variables,
  //     annotations) becomes `config.jobSelector`;
  //   - the `job` template variable must list its jobs from a selector holding exactly that
  //     literal (its `definition` and `query`): so it offers only the jobs `jobSelector`
  //     selects, and its All (every listed job) never reaches other targets. Its `regex` stays
  //     as shipped: a selector such as `job=~"ml-.+", namespace!="x"` is not a value regex.
  //   - under other `deploymentLabels`, the deployment variables, selectors, groupings,
  //     legends and links follow them (withDeploymentLabels above).
  // Everything else is the JSON as shipped; with the default `_config` the dashboard is unchanged.
  configureDashboard(name, dashboard, config)::
    local sub(s) = std.strReplace(s, shippedJobSelector, config.jobSelector);
    local fixQuery(q) =
      q
      + (if std.isString(std.get(q, 'expr')) then { expr: sub(q.expr) } else {})
      + (if std.isString(std.get(q, 'definition')) then { definition: sub(q.definition) } else {})
      + (if std.isString(std.get(q, 'query')) then { query: sub(q.query) } else {})
      + (if std.isObject(std.get(q, 'query')) then { query: fixQuery(q.query) } else {});
    local queryOf(v) = if std.isObject(std.get(v, 'query')) then std.get(v.query, 'query') else std.get(v, 'query');
    local jobVariable(v) =
      local selects(text) = std.isString(text) && std.length(std.findSubstr(shippedJobSelector, text)) == 1;
      assert selects(std.get(v, 'definition')) && selects(queryOf(v)) :
             '%s: the job variable must list jobs from a selector holding %s once '
             % [name, shippedJobSelector] + '(definition and query), e.g. label_values(drift_window_records{%s}, job); got %s'
             % [shippedJobSelector, std.toString(queryOf(v))];
      fixQuery(v);
    local fixPanel(panel) =
      panel
      + (if std.objectHas(panel, 'targets') then { targets: [fixQuery(t) for t in panel.targets] } else {})
      + (if std.objectHas(panel, 'panels') then { panels: [fixPanel(p) for p in panel.panels] } else {});
    local fixList(field, f) =
      if std.objectHas(dashboard, field) && std.objectHas(dashboard[field], 'list') then
        { [field]+: { list: [f(item) for item in dashboard[field].list] } }
      else {};
    withDeploymentLabels(
      dashboard
      + (if std.objectHas(dashboard, 'panels') then { panels: [fixPanel(p) for p in dashboard.panels] } else {})
      + fixList('annotations', fixQuery)
      + fixList('templating', function(v) if std.get(v, 'name') == 'job' then jobVariable(v) else fixQuery(v)),
      config.deploymentLabels,
    ),
}
