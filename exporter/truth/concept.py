"""Streaming change detection on a model's per-record error stream (concept drift).

Data drift statistics compare inputs; once labels arrive, the error of each prediction
(0/1 for a classifier, the absolute error for a regressor, from
:func:`exporter.stats.performance.per_record_error`) shows whether the model itself got
worse. River's detectors watch that stream record by record:

- **ADWIN** keeps an adaptive window and signals when two sub-windows' means differ by more
  than a Hoeffding-style bound at confidence ``delta``; any bounded error, either direction.
- **Page-Hinkley** accumulates deviations from the running mean (CUSUM) and signals when the
  cumulative rise (or, two-sided, also the fall) exceeds ``threshold``. By default the
  deviations are standardized by the stream's running standard deviation, so ``delta`` and
  ``threshold`` are in standard deviations and one default fits 0/1 errors at any error rate
  and absolute errors at any scale; and only rises count (``direction="up"``): a model getting
  better is no concept drift to page for. Implemented here (:class:`PageHinkley`); with
  ``standardize=False``, ``direction="both"`` it is river's ``PageHinkley`` record for record.
- **DDM** models the error as Bernoulli and signals when the error rate rises
  ``drift_threshold`` standard deviations above its best so far; 0/1 errors only.

River (ADWIN, DDM) is imported inside :class:`ErrorStreamMonitor`, never at module import: it
pulls in pandas (about 80 MB of resident memory), which only models that receive labels should
pay.

The defaults give under one false alarm per 100,000 stationary records and detect a 0.1 -> 0.3
error-rate step within a few hundred records: ``bench/bench_detectors.py`` measures both, and
``docs/ground-truth.md`` has its table.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np
from numpy.typing import ArrayLike

from exporter.stats.validation import as_sample

__all__ = ["DETECTORS", "DetectorSettings", "ErrorStreamMonitor", "PageHinkley"]

DETECTORS = ("adwin", "page_hinkley", "ddm")
"""Every detector name, in report order; a monitor runs a subset (no DDM for regression)."""


@dataclass(frozen=True)
class DetectorSettings:
    """Detector parameters; the defaults are measured by ``bench/bench_detectors.py``.

    On seeded stationary streams of 100,000 records (0/1 errors at error rates 0.05, 0.1 and
    0.3, and |N(0, 1)| absolute errors) each detector gives under one false alarm per 100,000
    records at these defaults, and detects a 0.1 -> 0.3 error-rate step (docs/ground-truth.md
    has the table). What changed from river 0.26's defaults, and why:

    - Page-Hinkley is one-sided (``direction="up"``) on standardized errors with
      ``delta = 0.25`` and ``threshold = 40`` standard deviations and no forgetting
      (``alpha = 1``). River's defaults (two-sided, ``delta = 0.005`` and ``threshold = 50`` in
      the error's units, ``alpha = 0.9999``) alarmed 1.0, 2.9 and 8.8 times per 100,000
      stationary 0/1 errors at error rates 0.05, 0.1 and 0.3, and 16.7 times on |N(0, 1)|
      absolute errors: the threshold in the error's units fits one error scale only, and with
      forgetting the cumulative sum settles where the decay cancels ``delta`` and then wanders
      with a standard deviation of ~70 errors' standard deviations.
    - DDM: ``ddm_warm_start = 2000`` (river: 30) and ``ddm_drift_threshold = 4`` (river: 3).
      After a short warm start DDM takes its best error rate from a lucky first stretch and
      then alarms on the ordinary rate: river's 30 alarmed on 52 % of stationary streams of
      20,000 records; a warm start of 1,000 with threshold 3 still gave 0.12 false alarms per
      100,000 records on 100,000-record streams (about half of them in the first 5,000
      records, so more on short-lived monitors); 2,000 and 4 gave none in 12,000,000.
    """

    adwin_delta: float = 0.002
    """``river.drift.ADWIN(delta=...)``: significance of the sub-window test, in (0, 1)."""
    page_hinkley_min_instances: int = 30
    """Records since the last reset before Page-Hinkley may detect."""
    page_hinkley_delta: float = 0.25
    """Tolerated change of the mean per record; standard deviations when standardized."""
    page_hinkley_threshold: float = 40.0
    """Cumulative deviation that signals; standard deviations when standardized."""
    page_hinkley_alpha: float = 1.0
    """Forgetting factor of the cumulative sums, in (0, 1]; 1 forgets nothing (classic CUSUM)."""
    page_hinkley_direction: Literal["up", "both"] = "up"
    """``"up"``: only a rise of the error detects; ``"both"``: a fall too (river's default)."""
    page_hinkley_standardize: bool = True
    """Divide each deviation by the running standard deviation of the errors since the reset."""
    ddm_warm_start: int = 2_000
    """``river.drift.binary.DDM(warm_start=...)``: records before any detection."""
    ddm_drift_threshold: float = 4.0
    """``DDM(drift_threshold=...)``: standard deviations above the best error rate."""

    def __post_init__(self) -> None:
        if not 0.0 < self.adwin_delta < 1.0:
            raise ValueError(f"adwin_delta must be in (0, 1), got {self.adwin_delta!r}")
        if not 0.0 < self.page_hinkley_alpha <= 1.0:
            raise ValueError(
                f"page_hinkley_alpha must be in (0, 1], got {self.page_hinkley_alpha!r}"
            )
        for name in ("page_hinkley_delta", "page_hinkley_threshold", "ddm_drift_threshold"):
            value = getattr(self, name)
            if not value >= 0.0:  # also rejects nan
                raise ValueError(f"{name} must be >= 0, got {value!r}")
        for name in ("page_hinkley_min_instances", "ddm_warm_start"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)!r}")
        if self.page_hinkley_direction not in ("up", "both"):
            raise ValueError(
                f"page_hinkley_direction must be 'up' or 'both', "
                f"got {self.page_hinkley_direction!r}"
            )


class PageHinkley:
    r"""Page-Hinkley test on a stream of errors, one-sided or two-sided, optionally standardized.

    With :math:`\bar x_t` and :math:`s_t` the mean and (population) standard deviation of the
    errors since the last reset, including :math:`x_t`, the deviation is
    :math:`d_t = (x_t - \bar x_t) / s_t` when ``standardize`` (0 while :math:`s_t = 0`), else
    :math:`x_t - \bar x_t`. The sums

    .. math::

        U_t = \alpha U_{t-1} + d_t - \delta, \qquad L_t = \alpha L_{t-1} + d_t + \delta

    detect a rise when :math:`U_t - \min_{i \le t} U_i > \lambda` and (``direction="both"``)
    a fall when :math:`\max_{i \le t} L_i - L_t > \lambda`, once ``min_instances`` records
    were seen; the test then resets. With :math:`\alpha = 1` the rise statistic is the CUSUM
    of :math:`d_t - \delta` (Page 1954). The arithmetic, order of updates and reset are
    river 0.26's ``drift.PageHinkley`` (``mode="up"`` / ``"both"``), which
    ``tests/unit/test_concept.py`` checks record for record with ``standardize=False``.

    Bound: a few floats.
    """

    def __init__(
        self,
        min_instances: int,
        delta: float,
        threshold: float,
        alpha: float,
        direction: Literal["up", "both"],
        standardize: bool,
    ) -> None:
        self.min_instances = min_instances
        self.delta = delta
        self.threshold = threshold
        self.alpha = alpha
        self.both = direction == "both"
        self.standardize = standardize
        self.drift_detected = False
        self._reset()

    def _reset(self) -> None:
        self._n = 0
        self._mean = 0.0
        self._m2 = 0.0  # sum of squared deviations from the mean (Welford)
        self._sum_increase = 0.0
        self._sum_decrease = 0.0
        self._min_increase = math.inf
        self._max_decrease = -1.0  # river's initial value

    def update(self, x: float) -> None:
        """Feed one error; :attr:`drift_detected` says whether it completed a detection."""
        if self.drift_detected:
            self._reset()
        self._n += 1
        step = x - self._mean
        self._mean += (1.0 / self._n) * step  # river's stats.Mean, to the last bit
        self._m2 += step * (x - self._mean)
        dev = x - self._mean
        if self.standardize:
            sd = math.sqrt(self._m2 / self._n)
            dev = dev / sd if sd > 0.0 else 0.0
        self._sum_increase = self.alpha * self._sum_increase + dev - self.delta
        self._sum_decrease = self.alpha * self._sum_decrease + dev + self.delta
        self._min_increase = min(self._min_increase, self._sum_increase)
        self._max_decrease = max(self._max_decrease, self._sum_decrease)
        detected = False
        if self._n >= self.min_instances:
            detected = self._sum_increase - self._min_increase > self.threshold
            if self.both and not detected:
                detected = self._max_decrease - self._sum_decrease > self.threshold
        self.drift_detected = detected


class _Detector(Protocol):
    """The part of river's ``DriftDetector`` interface used here."""

    def update(self, x: float) -> None: ...

    @property
    def drift_detected(self) -> bool: ...


class ErrorStreamMonitor:
    """Change detectors over one model's error stream, with monotonic detection counts.

    ADWIN and Page-Hinkley always run; DDM only when ``binary`` (0/1 errors). ADWIN and DDM are
    river's; Page-Hinkley is :class:`PageHinkley`. The keys of
    :attr:`detections` and :attr:`last_detection_at` are the running detectors, in the order
    of :data:`DETECTORS`. Each detector restarts itself after signalling (river's behaviour),
    so a lasting change is counted once and a second change can be counted again.

    Bound: memory is constant per monitor. Page-Hinkley and DDM keep a few floats; ADWIN
    keeps at most ``max_buckets`` (5) buckets per power of two of its window length, so
    O(log n) buckets. Not thread-safe: the caller serialises :meth:`update`.

    Parameters
    ----------
    settings : DetectorSettings
        Detector parameters.
    binary : bool
        Whether errors are 0/1 (a classifier), which enables DDM.
    """

    def __init__(self, settings: DetectorSettings, binary: bool) -> None:
        # river ships py.typed; only ADWIN's constructor is unannotated.
        from river import drift

        self.settings = settings
        self.binary = binary
        detectors: dict[str, _Detector] = {
            "adwin": drift.ADWIN(delta=settings.adwin_delta),  # type: ignore[no-untyped-call]
            "page_hinkley": PageHinkley(
                min_instances=settings.page_hinkley_min_instances,
                delta=settings.page_hinkley_delta,
                threshold=settings.page_hinkley_threshold,
                alpha=settings.page_hinkley_alpha,
                direction=settings.page_hinkley_direction,
                standardize=settings.page_hinkley_standardize,
            ),
        }
        if binary:
            detectors["ddm"] = drift.binary.DDM(
                warm_start=settings.ddm_warm_start,
                drift_threshold=settings.ddm_drift_threshold,
            )
        self._detectors = detectors
        self.detections: dict[str, int] = dict.fromkeys(detectors, 0)
        """Detections per detector since construction; only ever increase."""
        self.last_detection_at: dict[str, float | None] = dict.fromkeys(detectors)
        """The ``now`` of the latest :meth:`update` call that detected, per detector."""
        self.records = 0
        """Errors fed since construction."""

    @property
    def detectors(self) -> tuple[str, ...]:
        """Names of the running detectors, in the order of :data:`DETECTORS`."""
        return tuple(self._detectors)

    def update(self, errors: ArrayLike, now: float) -> dict[str, int]:
        """Feed errors in order; return how many detections each detector made in this call.

        Parameters
        ----------
        errors : array_like
            Per-record errors, oldest first: 0.0 / 1.0 if ``binary``, else non-negative
            absolute errors. May be empty.
        now : float
            Wall-clock seconds, recorded in :attr:`last_detection_at` for a detector that
            fires during this call (the labels of one call arrive together).

        Returns
        -------
        dict of str to int
            Detections in this call per running detector.

        Raises
        ------
        ValueError
            If ``errors`` is not 1-D finite numbers, has a negative value, or is not 0/1 when
            ``binary``. Nothing is fed when it raises.
        """
        values = as_sample(errors, "errors")
        if self.binary:
            valid = (values == 0.0) | (values == 1.0)
            requirement = "0 or 1"
        else:
            valid = values >= 0.0
            requirement = "non-negative"
        if not valid.all():
            bad = int(np.argmin(valid))
            raise ValueError(f"errors must be {requirement}, but errors[{bad}] is {values[bad]}")
        found = dict.fromkeys(self._detectors, 0)
        stream = values.tolist()  # Python floats: river updates one scalar at a time
        for name, detector in self._detectors.items():
            feed = detector.update
            hits = 0
            if name == "ddm":
                for x in stream:
                    feed(x == 1.0)  # DDM's contract is a stream of booleans
                    hits += detector.drift_detected
            else:
                for x in stream:
                    feed(x)
                    hits += detector.drift_detected
            found[name] = hits
            if hits:
                self.detections[name] += hits
                self.last_detection_at[name] = now
        self.records += len(stream)
        return found
