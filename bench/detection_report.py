"""Rates, the Markdown table and the verdicts of the detection benchmark, from the flags alone.

A cell is (dataset, monitor, n, scenario): a matrix of flags, one row per window and one
column per feature, and for each window the features that were moved. From it:

* `alarm`: share of windows with any feature flagged (no drift: the family-wise false-alarm
  rate per evaluation); `per_feature`: each feature's flag rate.
* `detected`: mean over windows of the share of moved features flagged (one moved feature:
  the share of windows where it was flagged).
* `innocent`: share of windows in which some feature that did not move was flagged.

Verdicts compare Monte Carlo rates. Against a fixed bound (<= 1 %, >= 90 %, >= 99 %) the
point estimate is compared and the counts printed. Between two rates (n against the next n,
ours against a peer) a difference counts only beyond two standard errors of the difference,
sqrt(p1 (1 - p1) / W1 + p2 (1 - p2) / W2), since both are estimated from W windows.

`matched_table` and `matched_verdict` read the matched false-alarm view
(detection_scores.matched_cells): there a difference counts only when Newcombe's 95 % interval
of it excludes 0.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np
from detection_data import scenario_kind
from detection_scores import difference_interval, family_score

FALSE_ALARM_BOUND = 0.01
SMALL_N_DETECTION = 0.90
LARGE_N_DETECTION = 0.99
LARGE_N = 1_000
STRONG = ("mean 0.5 sd", "mass 20 %")


def summarise(
    flags: np.ndarray,
    moved: list[list[int]],
    judged: np.ndarray,
    scores: np.ndarray | None = None,
) -> dict[str, Any]:
    """The rates of one cell; `flags` and `scores` are windows x features.

    With `scores` (bench/detection_scores.py) the cell also keeps each window's family-wise
    score and its moved features' scores (a feature not judged: 0), for the matched view."""
    windows, features = flags.shape
    cell: dict[str, Any] = {
        "windows": int(windows),
        "judged": int(judged.sum()),
        "alarm": float(flags.any(axis=1).mean()) if windows else math.nan,
        "per_feature": flags.mean(axis=0).tolist() if windows else [],
    }
    if scores is not None:
        cell["scores"] = [family_score(row) for row in scores]
        if any(moved):
            cell["moved_scores"] = [
                np.nan_to_num(row[hit], nan=0.0).tolist()
                for row, hit in zip(scores, moved, strict=True)
            ]
    if any(moved):
        caught, innocent = [], []
        for row, hit in zip(flags, moved, strict=True):
            caught.append(row[hit].mean())
            others = np.ones(features, dtype=bool)
            others[hit] = False
            innocent.append(row[others].any())
        cell["detected"] = float(np.mean(caught))
        cell["innocent"] = float(np.mean(innocent))
    return cell


def _se(p: float, w: int) -> float:
    return math.sqrt(max(p * (1 - p), 0.0) / w) if w else math.inf


def beyond_noise(worse: float, w1: int, better: float, w2: int) -> bool:
    """True when `worse` exceeds `better` by more than two standard errors of the difference."""
    return worse - better > 2 * math.hypot(_se(worse, w1), _se(better, w2))


def percent(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{100 * value:.1f} %" if value < 0.9995 or value == 1 else f"{100 * value:.2f} %"


def cell_text(cell: dict[str, Any] | None, key: str) -> str:
    if cell is None:
        return "-"
    if cell["judged"] == 0:
        return "not judged"
    text = percent(cell.get(key))
    return (
        text
        if cell["judged"] == cell["windows"]
        else f"{text} ({cell['judged']}/{cell['windows']} judged)"
    )


def table_rows(results: dict[str, Any], scenarios: list[str]) -> tuple[list[str], list[list[str]]]:
    """Markdown rows: dataset, monitor, n, windows, false alarms, detection per shift, and
    the unmoved features flagged (worst one-feature shift; the half scenario)."""
    shifts = [s for s in scenarios if s not in ("none", "half")]
    headers = ["set", "monitor", "n", "windows", "false alarms (any / worst feature)"]
    headers += shifts
    headers += ["unmoved flagged, worst 1-feature shift"]
    if "half" in scenarios:
        headers += ["half moved: caught / unmoved flagged"]
    rows = []
    for dataset, monitors in results.items():
        for monitor, by_n in monitors.items():
            for n, cells in by_n.items():
                none = cells.get("none")
                alarm = cell_text(none, "alarm")
                if none and none["judged"]:
                    alarm += f" / {percent(max(none['per_feature']))}"
                row = [
                    dataset,
                    monitor,
                    f"{int(n):,}",
                    str(none["windows"] if none else "-"),
                    alarm,
                ]
                row += [cell_text(cells.get(s), "detected") for s in shifts]
                innocent = [
                    cells[s]["innocent"] for s in shifts if s in cells and cells[s]["judged"]
                ]
                row.append(percent(max(innocent)) if innocent else "-")
                if "half" in scenarios:
                    half = cells.get("half")
                    row.append(
                        f"{cell_text(half, 'detected')} / {percent(half['innocent'])}"
                        if half and half["judged"]
                        else cell_text(half, "detected")
                    )
                rows.append(row)
    return headers, rows


def _cells(results: dict[str, Any], monitor: str) -> list[tuple[str, int, str, dict[str, Any]]]:
    return [
        (dataset, int(n), scenario, cell)
        for dataset, monitors in results.items()
        for n, cells in monitors.get(monitor, {}).items()
        for scenario, cell in cells.items()
    ]


def verdicts(
    results: dict[str, Any], monitor: str, peers: list[str], floor_sd: float, floor_mass: float
) -> list[dict[str, Any]]:
    """One verdict per target of issue 13 for `monitor`, each with the numbers behind it."""
    cells = _cells(results, monitor)
    out = []

    def verdict(target: str, failures: list[str], checked: int) -> None:
        status = "PASS" if not failures and checked else ("FAIL" if failures else "NOT MEASURED")
        out.append(
            {
                "monitor": monitor,
                "target": target,
                "status": status,
                "checked": checked,
                "failures": failures,
            }
        )

    none = [(d, n, c) for d, n, s, c in cells if s == "none"]
    verdict(
        f"no-drift family-wise false alarms <= {percent(FALSE_ALARM_BOUND)} at every n",
        [
            f"{d} n={n:,}: {percent(c['alarm'])} of {c['windows']}"
            for d, n, c in none
            if not c["alarm"] <= FALSE_ALARM_BOUND
        ],
        len(none),
    )
    strong = [(d, n, s, c) for d, n, s, c in cells if s in STRONG]
    smallest = min((n for _, n, _, _ in cells), default=0)
    failures = []
    for d, n, s, c in strong:
        bound = LARGE_N_DETECTION if n >= LARGE_N else SMALL_N_DETECTION if n == smallest else None
        if bound is not None and not (c["judged"] and c["detected"] >= bound):
            failures.append(f"{d} n={n:,} {s}: {cell_text(c, 'detected')} < {percent(bound)}")
    verdict(
        f"0.5 sd and 20 % moves caught >= {percent(SMALL_N_DETECTION)} at n = {smallest:,}, "
        f">= {percent(LARGE_N_DETECTION)} from n = {LARGE_N:,}",
        failures,
        len(strong),
    )
    verdict(
        "detection never falls and false alarms never rise as n grows (beyond 2 SE)",
        _monotone_failures(results, monitor),
        len(cells),
    )
    drifted = [(d, n, s, c) for d, n, s, c in cells if "innocent" in c]
    verdict(
        f"unmoved features not flagged because others moved: innocent alarms <= "
        f"{percent(FALSE_ALARM_BOUND)} in every drift scenario",
        [
            f"{d} n={n:,} {s}: {percent(c['innocent'])}"
            for d, n, s, c in drifted
            if not c["innocent"] <= FALSE_ALARM_BOUND
        ],
        len(drifted),
    )
    failures, checked = _peer_failures(results, monitor, peers, floor_sd, floor_mass)
    verdict(
        f"no more false alarms than either peer, detection >= the better peer at every shift "
        f">= the floor ({floor_sd} sd, {percent(floor_mass)} mass), 2 SE",
        failures,
        checked,
    )
    return out


def _monotone_failures(results: dict[str, Any], monitor: str) -> list[str]:
    failures = []
    for dataset, monitors in results.items():
        by_n = sorted(((int(n), cells) for n, cells in monitors.get(monitor, {}).items()))
        for (n1, low), (n2, high) in itertools.pairwise(by_n):
            for scenario, a in low.items():
                b = high.get(scenario)
                if b is None or not a["judged"] or not b["judged"]:
                    continue
                if scenario == "none" and beyond_noise(
                    b["alarm"], b["windows"], a["alarm"], a["windows"]
                ):
                    failures.append(
                        f"{dataset} false alarms {n1:,} -> {n2:,}: "
                        f"{percent(a['alarm'])} -> {percent(b['alarm'])}"
                    )
                if "detected" in a and beyond_noise(
                    a["detected"], a["windows"], b["detected"], b["windows"]
                ):
                    failures.append(
                        f"{dataset} {scenario} {n1:,} -> {n2:,}: "
                        f"{percent(a['detected'])} -> {percent(b['detected'])}"
                    )
    return failures


def _peer_failures(
    results: dict[str, Any], monitor: str, peers: list[str], floor_sd: float, floor_mass: float
) -> tuple[list[str], int]:
    failures, checked = [], 0
    for dataset, monitors in results.items():
        for n, cells in monitors.get(monitor, {}).items():
            for scenario, ours in cells.items():
                kind, size = scenario_kind(scenario)
                if kind in ("mean", "mass") and size < (floor_sd if kind == "mean" else floor_mass):
                    continue
                theirs = [
                    (p, monitors[p][n][scenario])
                    for p in peers
                    if p in monitors and scenario in monitors[p].get(n, {})
                ]
                if not theirs or kind == "half":
                    continue
                checked += 1
                if kind == "none":
                    for peer, c in theirs:
                        if beyond_noise(ours["alarm"], ours["windows"], c["alarm"], c["windows"]):
                            failures.append(
                                f"{dataset} n={int(n):,} false alarms {percent(ours['alarm'])}"
                                f" > {peer} {percent(c['alarm'])}"
                            )
                    continue
                peer, best = max(theirs, key=lambda item: item[1]["detected"])
                if beyond_noise(
                    best["detected"], best["windows"], ours["detected"], ours["windows"]
                ):
                    failures.append(
                        f"{dataset} n={int(n):,} {scenario}: {percent(ours['detected'])}"
                        f" < {peer} {percent(best['detected'])}"
                    )
    return failures, checked


def matched_table(
    matched: dict[str, dict[str, Any]], scenarios: list[str]
) -> tuple[list[str], list[list[str]]]:
    """Markdown rows of the matched view: each monitor cut at its own no-drift quantile."""
    shifts = [s for s in scenarios if s not in ("none", "half")]
    headers = ["set", "monitor", "n", "no-drift windows", "cut", "false alarms at the cut"]
    headers += shifts
    rows = []
    for dataset, monitors in matched.items():
        for monitor, by_n in monitors.items():
            for n, cells in by_n.items():
                none = cells["none"]
                low, high = none["true_rate_95"]
                row = [
                    dataset,
                    monitor,
                    f"{int(n):,}",
                    str(none["windows"]),
                    f"{none['cut']:.3g}",
                    f"{percent(none['alarm'])} (true {percent(low)}-{percent(high)})",
                ]
                for s in shifts:
                    c = cells.get(s)
                    row.append(
                        "-"
                        if c is None
                        else f"{100 * c['detected']:.0f} % "
                        f"[{100 * c['detected_95'][0]:.0f}-{100 * c['detected_95'][1]:.0f}]"
                    )
                rows.append(row)
    return headers, rows


def matched_verdict(
    matched: dict[str, dict[str, Any]],
    monitor: str,
    peers: list[str],
    rate: float,
    floor_sd: float,
    floor_mass: float,
) -> dict[str, Any]:
    """The matched target: at the same no-drift false-alarm rate, `monitor`'s detection is not
    below the better peer's on any shift at or above the floor, beyond the 95 % interval of
    the difference (Newcombe). Cells where it is above beyond that interval are listed too."""
    failures, wins, checked = [], [], 0
    for dataset, monitors in matched.items():
        for n, cells in monitors.get(monitor, {}).items():
            for scenario, ours in cells.items():
                kind, size = scenario_kind(scenario)
                if kind not in ("mean", "mass"):
                    continue
                if size < (floor_sd if kind == "mean" else floor_mass):
                    continue
                theirs = [
                    (p, monitors[p][n][scenario])
                    for p in peers
                    if scenario in monitors.get(p, {}).get(n, {})
                ]
                if not theirs:
                    continue
                checked += 1
                peer, best = max(theirs, key=lambda item: item[1]["detected"])
                low, high = difference_interval(
                    best["detected"], best["windows"], ours["detected"], ours["windows"]
                )
                text = (
                    f"{dataset} n={int(n):,} {scenario}: {percent(ours['detected'])} vs "
                    f"{peer} {percent(best['detected'])} (difference 95 % "
                    f"{100 * low:+.0f} to {100 * high:+.0f} points)"
                )
                if low > 0:
                    failures.append(text)
                elif high < 0:
                    wins.append(text)
    status = "PASS" if not failures and checked else ("FAIL" if failures else "NOT MEASURED")
    return {
        "monitor": monitor,
        "target": f"matched false-alarm rate ({percent(rate)} of no-drift windows, every monitor "
        f"cut at its own quantile): detection >= the better peer's on every shift >= the floor "
        f"({floor_sd} sd, {percent(floor_mass)} mass), within the 95 % interval",
        "status": status,
        "checked": checked,
        "failures": failures,
        "wins": wins,
    }
