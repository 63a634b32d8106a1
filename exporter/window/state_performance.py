"""The reference's label-free estimation maps in a state file: CBPE's calibration, DLE's table.

Read back and checked like every other field (exporter.window.state_fields), so a forged or
torn file fails with a SnapshotError naming the arrays, never with a wrong estimate.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from exporter.stats.estimation import Calibration
from exporter.stats.loss_estimation import LossTable, check_loss_table
from exporter.window.state_fields import SnapshotError, read_array, read_floats

#: The loss table's arrays, in LossTable's field order.
LOSS_TABLE_ARRAYS = tuple(f"perf_loss_{name}" for name in LossTable._fields)


def encode_loss_table(table: LossTable, arrays: dict[str, NDArray[Any]]) -> None:
    for key, value in zip(LOSS_TABLE_ARRAYS, table, strict=True):
        arrays[key] = value


def read_calibration(arrays: dict[str, NDArray[Any]]) -> Calibration:
    thresholds = read_floats(arrays, "perf_thresholds")
    values = read_floats(arrays, "perf_values")
    if not (
        len(thresholds)
        and values.shape == thresholds.shape
        and np.isfinite(thresholds).all()
        and (np.diff(thresholds) > 0).all()
        and ((values >= 0) & (values <= 1)).all()
        and (np.diff(values) >= 0).all()
    ):
        raise SnapshotError(
            "arrays perf_thresholds, perf_values: not a calibration (strictly increasing "
            "scores, non-decreasing probabilities in [0, 1], as many of each)"
        )
    return Calibration(thresholds, values)


def read_loss_table(arrays: dict[str, NDArray[Any]], bins: int | None) -> LossTable:
    """The loss table, one group per bin of the restored prediction column (`bins`)."""
    names = ", ".join(LOSS_TABLE_ARRAYS)
    if bins is None:
        raise SnapshotError(f"arrays {names}: a loss table, but the profile has no prediction")
    group, labels = (read_array(arrays, key) for key in LOSS_TABLE_ARRAYS[:2])
    for key, value in ((LOSS_TABLE_ARRAYS[0], group), (LOSS_TABLE_ARRAYS[1], labels)):
        if value.dtype.kind not in "iu" or value.ndim != 1:
            raise SnapshotError(f"array {key}: {value.dtype} {value.shape}, not integers")
    if group.shape != (bins,):
        raise SnapshotError(f"array {LOSS_TABLE_ARRAYS[0]}: {group.shape}, not ({bins},)")
    table = LossTable(
        group.astype(np.int64),
        labels.astype(np.int64),
        *(read_floats(arrays, key) for key in LOSS_TABLE_ARRAYS[2:]),
    )
    try:
        check_loss_table(table)
    except ValueError as error:
        raise SnapshotError(f"arrays {names}: {error}") from None
    return table
