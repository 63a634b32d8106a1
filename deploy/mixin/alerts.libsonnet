// prometheusAlerts: the rule groups (of every rule file) that hold an alert.
local lib = import 'lib.libsonnet';

{
  prometheusAlerts+:: {
    groups+: [
      group
      for file in std.objectFields($.ruleFiles)
      for group in std.get($.ruleFiles[file], 'groups', [])
      if lib.hasAlert(group)
    ],
  },
}
