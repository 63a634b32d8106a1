"""Compare two Prometheus text expositions structurally, as a scraper would read them.

Metric family names, HELP, TYPE, sample names, label sets and timestamps must match exactly;
values only to a tolerance, since BLAS kernels differ in the last digit across CPUs (the same
seeded drift statistic prints ``0.123456789012345`` on one machine and ``...346`` on another).
"""

from __future__ import annotations

import math

from prometheus_client.parser import text_string_to_metric_families

#: Tolerances for values: a last-digit difference of a double is about 1e-16 relative.
REL_TOL = 1e-9
ABS_TOL = 1e-12

SampleKey = tuple[str, tuple[tuple[str, str], ...]]


class _Family:
    def __init__(self, documentation: str, kind: str) -> None:
        self.documentation = documentation
        self.kind = kind
        self.samples: dict[SampleKey, tuple[float, float | None]] = {}


def _parse(text: str, which: str, problems: list[str]) -> dict[str, _Family]:
    families: dict[str, _Family] = {}
    for family in text_string_to_metric_families(text):
        if family.name in families:
            problems.append(f"{which}: family {family.name} appears twice")
            continue
        parsed = families[family.name] = _Family(family.documentation, family.type)
        for sample in family.samples:
            key: SampleKey = (sample.name, tuple(sorted(sample.labels.items())))
            if key in parsed.samples:
                problems.append(f"{which}: sample {_show(key)} appears twice")
            timestamp = None if sample.timestamp is None else float(sample.timestamp)
            parsed.samples[key] = (sample.value, timestamp)
    return families


def _show(key: SampleKey) -> str:
    name, labels = key
    return name + "{" + ",".join(f'{k}="{v}"' for k, v in labels) + "}"


def values_match(
    actual: float, expected: float, rel: float = REL_TOL, abs_: float = ABS_TOL
) -> bool:
    """True when the values agree to `rel` relative or `abs_` absolute; NaN matches NaN."""
    if math.isnan(actual) or math.isnan(expected):
        return math.isnan(actual) and math.isnan(expected)
    return math.isclose(actual, expected, rel_tol=rel, abs_tol=abs_)


def exposition_differences(
    actual: str, expected: str, rel: float = REL_TOL, abs_: float = ABS_TOL
) -> list[str]:
    """Every structural difference between two expositions, one line each; empty if they match.

    Families are matched by name (order is not compared); within a family, samples by their
    name and label set. Values compare with :func:`values_match`, timestamps exactly.
    """
    problems: list[str] = []
    got = _parse(actual, "actual", problems)
    want = _parse(expected, "expected", problems)
    for name in sorted(want.keys() - got.keys()):
        problems.append(f"family {name} is missing")
    for name in sorted(got.keys() - want.keys()):
        problems.append(f"family {name} is unexpected")
    for name in sorted(want.keys() & got.keys()):
        g, w = got[name], want[name]
        if g.kind != w.kind:
            problems.append(f"family {name}: TYPE {g.kind}, expected {w.kind}")
        if g.documentation != w.documentation:
            problems.append(
                f"family {name}: HELP {g.documentation!r}, expected {w.documentation!r}"
            )
        for key in sorted(w.samples.keys() - g.samples.keys()):
            problems.append(f"sample {_show(key)} is missing")
        for key in sorted(g.samples.keys() - w.samples.keys()):
            problems.append(f"sample {_show(key)} is unexpected")
        for key in sorted(w.samples.keys() & g.samples.keys()):
            (g_value, g_time), (w_value, w_time) = g.samples[key], w.samples[key]
            if not values_match(g_value, w_value, rel, abs_):
                problems.append(f"sample {_show(key)}: value {g_value!r}, expected {w_value!r}")
            if g_time != w_time:
                problems.append(f"sample {_show(key)}: timestamp {g_time!r}, expected {w_time!r}")
    return problems


def assert_expositions_match(
    actual: str, expected: str, rel: float = REL_TOL, abs_: float = ABS_TOL
) -> None:
    """Fail with every difference listed (see :func:`exposition_differences`)."""
    problems = exposition_differences(actual, expected, rel, abs_)
    assert not problems, "expositions differ:\n" + "\n".join(problems)
