// prometheusRules: the rule groups (of every rule file) that only record.
local lib = import 'lib.libsonnet';

{
  prometheusRules+:: {
    groups+: [
      group
      for file in std.objectFields($.ruleFiles)
      for group in std.get($.ruleFiles[file], 'groups', [])
      if !lib.hasAlert(group)
    ],
  },
}
