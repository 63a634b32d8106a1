// grafanaDashboards: deploy/grafana/dashboards/*.json (dashboard_files.libsonnet), with what
// `_config` decides there (lib.configureDashboard). The JSON files stay the source of the
// panels and are this render with the default `_config` (tests/deploy/test_mixin.py).
local files = import 'dashboard_files.libsonnet';
local lib = import 'lib.libsonnet';

{
  grafanaDashboards+:: {
    [name]: lib.configureDashboard(name, files[name], $._config)
    for name in std.objectFields(files)
  },
}
