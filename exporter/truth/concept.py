"""Streaming change detection on a model's per-record error stream (concept drift).

Data drift statistics compare inputs; once labels arrive, the error of each prediction
(0/1 for a classifier, the absolute error for a regressor, from
:func:`exporter.stats.performance.per_record_error`) shows whether the model itself got
worse. River's detectors watch that stream record by record:

- **ADWIN** keeps an adaptive window and signals when two sub-windows' means differ by more
  than a Hoeffding-style bound at confidence ``delta``; any bounded error, either direction.
- **Page-Hinkley** accumulates deviations from the running mean (CUSUM) and signals when the
  cumulative rise or fall exceeds ``threshold``; ``delta`` and ``threshold`` are in the
  error's units.
- **DDM** models the error as Bernoulli and signals when the error rate rises
  ``drift_threshold`` standard deviations above its best so far; 0/1 errors only.

River is imported inside :class:`ErrorStreamMonitor`, never at module import: it pulls in
pandas (about 80 MB of resident memory), which only models that receive labels should pay.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
from numpy.typing import ArrayLike

from exporter.stats.validation import as_sample

__all__ = ["DETECTORS", "DetectorSettings", "ErrorStreamMonitor"]

DETECTORS = ("adwin", "page_hinkley", "ddm")
"""Every detector name, in report order; a monitor runs a subset (no DDM for regression)."""


@dataclass(frozen=True)
class DetectorSettings:
    """Detector parameters; every default is river 0.26's.

    Two defaults need care (measured in ``tests/unit/test_concept.py``):

    - ``page_hinkley_delta`` and ``page_hinkley_threshold`` are in the error's units. River's
      values suit errors with a standard deviation near 0.3: on 0/1 errors at a 10 % error
      rate they gave 0.24 false alarms per 20,000 records (50 seeded streams). For errors
      with standard deviation ``s``, scale both by ``s / 0.3``: on |N(0, 1)| regression
      errors (``s = 0.6``) the defaults gave 3.5 false alarms per 20,000 records, doubled
      values 0.1 (30 seeded streams).
    - ``ddm_warm_start = 30`` lets DDM take its best error rate from a lucky first stretch
      and then alarm on the ordinary rate: 52 % of 50 seeded stationary streams of 20,000
      0/1 errors saw such an alarm, against 16 % with a warm start of 1,000.
    """

    adwin_delta: float = 0.002
    """``river.drift.ADWIN(delta=...)``: significance of the sub-window test, in (0, 1)."""
    page_hinkley_min_instances: int = 30
    """``river.drift.PageHinkley(min_instances=...)``: records before any detection."""
    page_hinkley_delta: float = 0.005
    """``PageHinkley(delta=...)``: tolerated change of the mean per record, error units."""
    page_hinkley_threshold: float = 50.0
    """``PageHinkley(threshold=...)``: cumulative deviation that signals, error units."""
    page_hinkley_alpha: float = 0.9999
    """``PageHinkley(alpha=...)``: forgetting factor of the cumulative sums, in (0, 1]."""
    ddm_warm_start: int = 30
    """``river.drift.binary.DDM(warm_start=...)``: records before any detection."""
    ddm_drift_threshold: float = 3.0
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


class _Detector(Protocol):
    """The part of river's ``DriftDetector`` interface used here."""

    def update(self, x: float) -> None: ...

    @property
    def drift_detected(self) -> bool: ...


class ErrorStreamMonitor:
    """Change detectors over one model's error stream, with monotonic detection counts.

    ADWIN and Page-Hinkley always run; DDM only when ``binary`` (0/1 errors). The keys of
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
            "page_hinkley": drift.PageHinkley(
                min_instances=settings.page_hinkley_min_instances,
                delta=settings.page_hinkley_delta,
                threshold=settings.page_hinkley_threshold,
                alpha=settings.page_hinkley_alpha,
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
