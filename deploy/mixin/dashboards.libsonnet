// grafanaDashboards: deploy/grafana/dashboards/*.json (dashboard_files.libsonnet), with what
// `_config` decides there. The JSON files stay the source of the panels; this only sets
//   - the job selector: `job="drift-exporter"` in any query becomes `_config.jobSelector`;
//   - a `job` template variable, if the dashboard has one: its query lists the jobs the
//     selector matches, and its default is the selector's job when it names one (`job="x"`).
local files = import 'dashboard_files.libsonnet';

// The job selector the JSON files are written with.
local shippedJobSelector = 'job="drift-exporter"';

local jobVariable(variable, config) =
  local query = 'label_values(up{%s}, job)' % config.jobSelector;
  local selector = config.jobSelector;
  local named =
    std.startsWith(selector, 'job="') && std.endsWith(selector, '"')
    && std.length(std.findSubstr('"', selector)) == 2;
  local job = if named then std.substr(selector, 5, std.length(selector) - 6) else null;
  variable
  + { definition: query }
  + (if std.isObject(std.get(variable, 'query')) then { query+: { query: query } } else { query: query })
  + (if job != null && std.objectHas(variable, 'current') then { current: { text: job, value: job } } else {});

// Only where queries live (panel targets, rows' panels, variables, annotations): walking
// every string of a dashboard is slow in the C++ jsonnet.
local configure(dashboard, config) =
  local sub(s) = std.strReplace(s, shippedJobSelector, config.jobSelector);
  local fixQuery(q) =
    q
    + (if std.isString(std.get(q, 'expr')) then { expr: sub(q.expr) } else {})
    + (if std.isString(std.get(q, 'definition')) then { definition: sub(q.definition) } else {})
    + (if std.isString(std.get(q, 'query')) then { query: sub(q.query) } else {})
    + (if std.isObject(std.get(q, 'query')) then { query: fixQuery(q.query) } else {});
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
  + fixList('templating', function(v) if std.get(v, 'name') == 'job' then jobVariable(fixQuery(v), config) else fixQuery(v));

{
  grafanaDashboards+:: {
    [name]: configure(files[name], $._config)
    for name in std.objectFields(files)
  },
}
