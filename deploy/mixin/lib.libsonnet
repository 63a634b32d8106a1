// Helpers of the drift-exporter mixin (no configuration here; see config.libsonnet).
local shippedJobSelector = 'job="drift-exporter"';  // what the JSON dashboards are written with

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
    dashboard
    + (if std.objectHas(dashboard, 'panels') then { panels: [fixPanel(p) for p in dashboard.panels] } else {})
    + fixList('annotations', fixQuery)
    + fixList('templating', function(v) if std.get(v, 'name') == 'job' then jobVariable(v) else fixQuery(v)),
}
