// The drift-exporter monitoring mixin: `_config` (config.libsonnet) renders
//   ruleFiles          one object per deploy/prometheus/rules/<name>.yml (rule_files/), for render.py
//   prometheusAlerts   the groups that hold alerts      (alerts.libsonnet)
//   prometheusRules    the groups that only record      (rules.libsonnet)
//   grafanaDashboards  deploy/grafana/dashboards/*.json (dashboards.libsonnet)
// as kubernetes-mixin and node-mixin do; render with `python3 deploy/mixin/render.py`.
(import 'config.libsonnet')
+ (import 'rule_files/index.libsonnet')
+ (import 'alerts.libsonnet')
+ (import 'rules.libsonnet')
+ (import 'dashboards.libsonnet')
