"""A prediction batch encoded against one profile: a code per record per column.

Encoding runs outside the window lock (and, step by step, between yields of the event loop);
counting the codes under the lock is then a few array operations.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from operator import itemgetter
from typing import Any

import numpy as np
from numpy.typing import NDArray

from exporter.ingest.records import PredictionBatch
from exporter.ingest.values import ABSENT
from exporter.window.columns import (
    EXTRA_CODES,
    MISMATCH_OFFSET,
    MISSING_OFFSET,
    NAN_OFFSET,
    EncodedColumn,
    encode_categorical,
    encode_numeric,
)
from exporter.window.profile import NumericProfile, ReferenceProfile


class ColumnLayout:
    """Where each column's codes land in one bincount over all columns of a batch.

    Column i's code c becomes `firsts[i] + c`, so one `np.bincount` of the offset codes holds
    every column's bin counts (`firsts[i]` .. `+ bins[i]`) and its missing, NaN and
    type-mismatch counts (at `missing_at[i]`, `nan_at[i]`, `mismatch_at[i]`).
    """

    def __init__(self, profile: ReferenceProfile) -> None:
        bins = np.array([column.bins for column in profile.columns], dtype=np.intp)
        widths = bins + EXTRA_CODES
        self.bins = bins
        self.firsts = np.concatenate(([0], np.cumsum(widths)[:-1])).astype(np.intp)
        self.size = int(widths.sum())
        self.missing_at = self.firsts + bins + MISSING_OFFSET
        self.nan_at = self.firsts + bins + NAN_OFFSET
        self.mismatch_at = self.firsts + bins + MISMATCH_OFFSET
        self.numeric = np.array(
            [isinstance(column, NumericProfile) for column in profile.columns], dtype=bool
        )
        self.sampled = np.flatnonzero(self.numeric).tolist()


class PreparedBatch:
    """A batch being encoded against one profile: one code per record per column.

    `steps()` gathers and encodes one column per step, so a caller on the event loop can yield
    between steps and a large batch never blocks other requests for long; `ModelWindow.commit`
    then counts the codes under the lock. A column is gathered with one C-level lookup per
    record (`map(itemgetter(name), ...)`) unless some record lacks it; gathering by column
    builds no per-record tuples, which kept the cyclic GC busy.
    """

    def __init__(self, profile: ReferenceProfile, batch: PredictionBatch) -> None:
        self.profile = profile
        self.batch = batch
        self.all_present = True
        """Whether every record had every reference feature (known once the steps are done)."""
        self.encoded: list[EncodedColumn] = []
        self.layout = ColumnLayout(profile)
        self.offset_codes: NDArray[np.intp] = np.empty((0, 0), dtype=np.intp)
        self.flagged: NDArray[np.bool_] = np.empty((0, 0), dtype=bool)
        self.done = False

    def steps(self) -> Iterator[None]:
        profile, batch = self.profile, self.batch
        features = batch.features
        for column in profile.columns:
            raw: Sequence[Any]
            if column is profile.prediction:
                raw = batch.predictions
            else:
                try:
                    raw = list(map(itemgetter(column.name), features))
                except KeyError:
                    self.all_present = False
                    raw = [values.get(column.name, ABSENT) for values in features]
            if isinstance(column, NumericProfile):
                self.encoded.append(
                    encode_numeric(raw, column.edges, column.minimum, column.maximum)
                )
            else:
                self.encoded.append(
                    encode_categorical(
                        raw,
                        column.lookup,
                        column.overflow,
                        column.seen,
                        boolean=column.kind == "boolean",
                    )
                )
            yield
        width, length = len(self.encoded), len(batch)
        self.offset_codes = np.empty((width, length), dtype=np.intp)
        self.flagged = np.empty((width, length), dtype=bool)
        for i, coded in enumerate(self.encoded):
            np.add(coded.codes, self.layout.firsts[i], out=self.offset_codes[i])
            self.flagged[i] = coded.flagged
        self.done = True
