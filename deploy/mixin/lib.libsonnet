// Helpers of the drift-exporter mixin (no configuration here; see config.libsonnet).
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
}
