"""The simulated fleet's `/metrics` bodies for bench_fleet_rules.py.

A template is one real sidecar's exposition (parsed by `parse_exposition`) holding one or more
template models, plus each template model's reference bin counts (from its profile summary,
`GET /v1/models/{model}/reference`). `render_body` turns it into what sidecar `s` of the fleet
exposes for the fleet models `models[i]`, each a copy of template model
`template_models[i % len(template_models)]` with its `model` label renamed and its values
perturbed, seeded by (seed, sidecar, model):

* counts (`*_records`, `*_total` except the reference's, the label buffer): times the
  replica's traffic share exp(N(0, 0.1)), one draw per sidecar and model, rounded, so valid
  records never exceed window records;
* statistics, ratios, performance: times exp(N(0, 0.1)) each, capped at 1 where bounded;
* flags, minimums, reference values, timestamps, histograms, the number of features judged:
  kept.

`synthetic=True` adds the fleet contract's families (issue 14) that the template lacks, per
fleet model, from the perturbed values:

* `drift_feature_window_bin_records` / `drift_prediction_window_bin_records`: a multinomial
  draw of the column's valid records (`drift_feature_valid_records`) over its reference bins,
  with the reference shares tilted by exp(N(0, 0.2)) per bin (seeded per model and column, the
  same on every replica: the model's traffic moved, not one replica's);
* `drift_feature_reference_bin_records` / `drift_prediction_reference_bin_records`: the
  reference counts, the same on every replica;
* `drift_feature_<reason>_records` for each `drift_feature_<reason>_ratio` sample:
  round(ratio x `drift_window_records`);
* `drift_noise_quantile_z` = Phi^-1(1 - alpha / k), k = `drift_features_evaluated`, and
  `drift_prediction_noise_quantile_z` = Phi^-1(1 - alpha).

`bins=False` leaves out the four bin families (the baseline fleet); every other family stays.

Series per body (what tests/unit/test_bench_fleet_rules.py checks, by hand, on a literal
template):

    series = G + sum over fleet models m of B(template model of m)
    G      the template's samples without a `model` label (build info, rejected requests, ...)
    B(t)   t's samples in the template, plus, for the families added:
           2 x (sum over t's columns, features and the prediction, of the reference bins)
           + one count per `drift_feature_*_ratio` sample of t + 2 (the two z)
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

#: The contract's bin families (the baseline fleet leaves them out).
BIN_FAMILIES = (
    "drift_feature_window_bin_records",
    "drift_feature_reference_bin_records",
    "drift_prediction_window_bin_records",
    "drift_prediction_reference_bin_records",
)
Z_FAMILIES = ("drift_noise_quantile_z", "drift_prediction_noise_quantile_z")
QUALITY_REASONS = ("missing", "type_mismatch", "unseen_category", "out_of_range")
#: Every family the contract adds; a template holding all of them needs nothing synthetic.
CONTRACT_FAMILIES = (
    *BIN_FAMILIES,
    *(f"drift_feature_{reason}_records" for reason in QUALITY_REASONS),
    *Z_FAMILIES,
)
_HELP = {
    "window_bin_records": "Valid window values per reference bin (synthetic, bench).",
    "reference_bin_records": "Reference values per bin (synthetic, bench).",
    "records": "Window records behind the ratio of the same reason (synthetic, bench).",
    "z": "Standard normal quantile of the no-drift quantile (synthetic, bench).",
}
_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\S+)?$")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')
_KEEP_SUFFIXES = (
    "_bucket",
    "_sum",
    "_count",
    "_created",
    "_timestamp_seconds",
    "_min_records",
    "_min_valid_records",
    "_min_labels",
    "_judged",
    "_success",
    "_drifted",
    "_quantile_z",
    "_info",
)
_BOUNDED_SUFFIXES = ("_pvalue", "_ratio", "_accuracy", "_precision", "_recall", "_f1", "_roc_auc")
_KEEP, _COUNT, _STATISTIC, _BOUNDED = 0, 1, 2, 3


@dataclass(frozen=True)
class Sample:
    name: str
    labels: tuple[tuple[str, str], ...]
    value: float

    def label(self, key: str) -> str | None:
        return next((value for name, value in self.labels if name == key), None)


@dataclass(frozen=True)
class Family:
    """A metric family as exposed: its `# HELP` / `# TYPE` lines and its samples."""

    name: str
    header: tuple[str, ...]
    samples: tuple[Sample, ...]


@dataclass(frozen=True)
class ColumnBins:
    """A template model's reference bin counts: per feature, and the prediction's (or None)."""

    features: Mapping[str, tuple[int, ...]]
    prediction: tuple[int, ...] | None


@dataclass(frozen=True)
class Template:
    families: tuple[Family, ...]
    bins: Mapping[str, ColumnBins]

    @property
    def models(self) -> tuple[str, ...]:
        """The template models, in the order `bins` lists them."""
        return tuple(self.bins)

    def missing_contract_families(self) -> list[str]:
        present = {family.name for family in self.families}
        return [name for name in CONTRACT_FAMILIES if name not in present]


def parse_exposition(text: str) -> tuple[Family, ...]:
    """The families of a Prometheus text exposition, in order; a sample line joins the family
    whose name starts it (histogram `_bucket`, `_sum`, `_count`)."""
    families: list[Family] = []
    name, header, samples = "", [], []  # type: ignore[var-annotated]

    def close() -> None:
        if name:
            families.append(Family(name, tuple(header), tuple(samples)))

    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        if line.startswith("#"):
            parts = line.split(None, 3)
            if len(parts) >= 3 and parts[1] in ("HELP", "TYPE"):
                if parts[2] != name:
                    close()
                    name, header, samples = parts[2], [], []
                header.append(line)
            continue
        match = _SAMPLE.match(line)
        if match is None:
            raise ValueError(f"line {number}: not a sample line: {line[:120]!r}")
        sample_name, labels, value = match.groups()
        if not (name and sample_name.startswith(name)):
            close()
            name, header, samples = sample_name, [], []
        samples.append(Sample(sample_name, tuple(_LABEL.findall(labels or "")), float(value)))
    close()
    return tuple(families)


def value_kind(name: str) -> int:
    """How a replica perturbs a sample of this name (see the module docstring)."""
    if (
        name.startswith("drift_reference_")
        or name.endswith(_KEEP_SUFFIXES)
        or name == "drift_features_evaluated"
    ):
        return _KEEP
    if name.endswith(("_records", "_total")) or name == "drift_label_buffer_entries":
        return _COUNT
    return _BOUNDED if name.endswith(_BOUNDED_SUFFIXES) else _STATISTIC


@dataclass(frozen=True)
class _Block:
    """One family's samples of one template model, ready to render under a fleet model."""

    family: str
    names: tuple[str, ...]
    labels: tuple[tuple[tuple[str, str], ...], ...]
    values: np.ndarray
    kinds: np.ndarray


class FleetBodies:
    """Renders the bodies of a fleet of sidecars, each exposing `models` (see the module doc)."""

    def __init__(
        self,
        template: Template,
        models: Sequence[str],
        *,
        seed: int,
        synthetic: bool,
        bins: bool = True,
        alpha: float = 0.01,
    ) -> None:
        missing = template.missing_contract_families()
        if missing and not synthetic:
            raise ValueError(
                "the template (the sidecar on this branch) exports none of "
                f"{', '.join(missing)}: pass synthetic=True (--synthetic-bins) to add them "
                "per the fleet contract"
            )
        if not template.models:
            raise ValueError("the template has no model")
        self.template = template
        self.models = tuple(models)
        self.seed = seed
        self.add = frozenset(missing) if synthetic else frozenset()
        self.bins = bins
        self.alpha = alpha
        self._blocks = {model: self._blocks_of(model) for model in template.models}
        #: Per fleet model, per template family: each sample's `name{labels}`, model renamed.
        self._prefixes = [
            [
                [
                    _prefix(name, labels, model)
                    for name, labels in zip(b.names, b.labels, strict=True)
                ]
                for b in self._blocks[self.template_of(index)]
            ]
            for index, model in enumerate(self.models)
        ]
        self._globals = [
            (family, [s for s in family.samples if s.label("model") is None])
            for family in template.families
        ]

    def _blocks_of(self, model: str) -> list[_Block]:
        blocks = []
        for family in self.template.families:
            own = [s for s in family.samples if s.label("model") == model]
            blocks.append(
                _Block(
                    family.name,
                    tuple(s.name for s in own),
                    tuple(s.labels for s in own),
                    np.array([s.value for s in own], dtype=np.float64),
                    np.array([value_kind(s.name) for s in own], dtype=np.int8),
                )
            )
        return blocks

    def template_of(self, index: int) -> str:
        return self.template.models[index % len(self.template.models)]

    def render(self, sidecar: int) -> str:
        """Sidecar `sidecar`'s whole /metrics body."""
        replicas = [self._replica(sidecar, i) for i in range(len(self.models))]
        lines: list[str] = []
        for position, (family, global_samples) in enumerate(self._globals):
            if not self.bins and family.name in BIN_FAMILIES:
                continue
            lines.extend(family.header)
            lines.extend(_line(s.name, s.labels, s.value) for s in global_samples)
            for index, values in enumerate(replicas):
                block = self._blocks[self.template_of(index)][position]
                prefixes = self._prefixes[index][position]
                lines.extend(
                    f"{prefix} {value!r}"
                    for prefix, value in zip(prefixes, values[block.family].tolist(), strict=True)
                )
        lines.extend(self._added_lines(sidecar, replicas))
        return "\n".join(lines) + "\n"

    def _replica(self, sidecar: int, index: int) -> dict[str, np.ndarray]:
        """Each family's perturbed values of fleet model `index` on this sidecar."""
        rng = np.random.default_rng([self.seed, sidecar, index])
        share = float(np.exp(rng.normal(0.0, 0.1)))
        out = {}
        for block in self._blocks[self.template_of(index)]:
            factors = np.exp(rng.normal(0.0, 0.1, block.values.size))
            values = block.values.copy()
            counted = block.kinds == _COUNT
            values[counted] = np.round(values[counted] * share)
            varied = block.kinds >= _STATISTIC
            values[varied] *= factors[varied]
            bounded = block.kinds == _BOUNDED
            values[bounded] = np.minimum(values[bounded], 1.0)
            out[block.family] = values
        return out

    def _added_lines(self, sidecar: int, replicas: list[dict[str, np.ndarray]]) -> Iterator[str]:
        """The contract families the template lacks, every fleet model's samples each."""
        rows: dict[str, list[str]] = {}
        for index, (model, values) in enumerate(zip(self.models, replicas, strict=True)):
            blocks = self._blocks[self.template_of(index)]
            for name, line in self._added_samples(sidecar, index, model, blocks, values):
                rows.setdefault(name, []).append(line)
        for name in CONTRACT_FAMILIES:
            if name in rows:
                yield f"# HELP {name} {_HELP[_help_key(name)]}"
                yield f"# TYPE {name} gauge"
                yield from rows[name]

    def _added_samples(
        self,
        sidecar: int,
        index: int,
        model: str,
        blocks: list[_Block],
        values: dict[str, np.ndarray],
    ) -> Iterator[tuple[str, str]]:
        by_family = {block.family: block for block in blocks}
        window = _by_feature(by_family, values, "drift_window_records").get(None, 0.0)
        if self.bins:
            yield from self._bin_samples(sidecar, index, model, by_family, values)
        for reason in QUALITY_REASONS:
            name = f"drift_feature_{reason}_records"
            if name not in self.add:
                continue
            ratios = _by_feature(by_family, values, f"drift_feature_{reason}_ratio")
            for feature, ratio in ratios.items():
                yield name, _line(name, _labels(model, feature), round(ratio * window))
        evaluated = _by_feature(by_family, values, "drift_features_evaluated").get(None)
        normal = NormalDist()
        if "drift_noise_quantile_z" in self.add and evaluated:
            z = normal.inv_cdf(1.0 - self.alpha / evaluated)
            yield "drift_noise_quantile_z", _line("drift_noise_quantile_z", _labels(model), z)
        if "drift_prediction_noise_quantile_z" in self.add:
            name = "drift_prediction_noise_quantile_z"
            yield name, _line(name, _labels(model), normal.inv_cdf(1.0 - self.alpha))

    def _bin_samples(
        self,
        sidecar: int,
        index: int,
        model: str,
        by_family: dict[str, _Block],
        values: dict[str, np.ndarray],
    ) -> Iterator[tuple[str, str]]:
        bins = self.template.bins[self.template_of(index)]
        valid = _by_feature(by_family, values, "drift_feature_valid_records")
        columns: list[tuple[str, str | None, tuple[int, ...], float]] = [
            ("feature", feature, counts, valid.get(feature, 0.0))
            for feature, counts in bins.features.items()
        ]
        if bins.prediction is not None:
            predicted = _by_feature(by_family, values, "drift_prediction_valid_records")
            columns.append(("prediction", None, bins.prediction, predicted.get(None, 0.0)))
        window = _by_feature(by_family, values, "drift_window_records").get(None, 0.0)
        unseen = _by_feature(by_family, values, "drift_feature_unseen_category_ratio")
        rng = np.random.default_rng([self.seed, sidecar, index, 1])
        for position, (scope, feature, counts, n) in enumerate(columns):
            window_name = f"drift_{scope}_window_bin_records"
            reference_name = f"drift_{scope}_reference_bin_records"
            tilt = np.random.default_rng([self.seed, index, position]).normal(0, 0.2, len(counts))
            shares = np.asarray(counts, dtype=np.float64) * np.exp(tilt) + 1e-12
            # Unseen categories are valid values of the overflow bin (the last), whatever the
            # reference holds there: as many as drift_feature_unseen_category_records says.
            overflow = min(round(unseen.get(feature, 0.0) * window), int(n))
            drawn = rng.multinomial(int(n) - overflow, shares / shares.sum())
            drawn[-1] += overflow
            for b, (current, expected) in enumerate(zip(drawn, counts, strict=True)):
                where = _labels(model, feature, str(b))
                if window_name in self.add:
                    yield window_name, _line(window_name, where, float(current))
                if reference_name in self.add:
                    yield reference_name, _line(reference_name, where, float(expected))


def _help_key(name: str) -> str:
    for key in ("window_bin_records", "reference_bin_records", "z"):
        if name.endswith(key):
            return key
    return "records"


def _labels(
    model: str, feature: str | None = None, bin_: str | None = None
) -> tuple[tuple[str, str], ...]:
    labels = [("model", model)]
    if feature is not None:
        labels.append(("feature", feature))
    if bin_ is not None:
        labels.append(("bin", bin_))
    return tuple(labels)


def _by_feature(
    by_family: dict[str, _Block], values: dict[str, np.ndarray], family: str
) -> dict[str | None, float]:
    """The replica's values of `family` by their `feature` label (None: no feature label)."""
    block = by_family.get(family)
    if block is None:
        return {}
    return {
        dict(labels).get("feature"): float(value)
        for labels, value in zip(block.labels, values[family], strict=True)
    }


def _prefix(name: str, labels: tuple[tuple[str, str], ...], model: str) -> str:
    """`name{labels}` with the `model` label's value replaced by `model`."""
    return _line(name, tuple((k, model if k == "model" else v) for k, v in labels), 0.0).rsplit(
        " ", 1
    )[0]


def _line(name: str, labels: tuple[tuple[str, str], ...], value: float) -> str:
    if not labels:
        return f"{name} {float(value)!r}"
    inner = ",".join(f'{key}="{text}"' for key, text in labels)
    return f"{name}{{{inner}}} {float(value)!r}"


def series_count(body: str) -> int:
    """Sample lines in a body: the series one scrape of it adds."""
    return sum(1 for line in body.splitlines() if line and not line.startswith("#"))
