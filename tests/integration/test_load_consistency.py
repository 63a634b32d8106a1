"""Under concurrent load, the served sidecar counts every acknowledged record exactly once.

A three-second run of bench/bench_load.py's core against a real `drift-exporter serve`: two
producer threads POST 1,000-record batches while a scraper reads /metrics every 0.5 s and the
evaluator runs every second. No timing is asserted (absolute numbers do not travel); what is
asserted is exact: `drift_records_total` equals the records acknowledged with 202.
"""

from __future__ import annotations

from bench.bench_load import LoadConfig, run_load


def test_records_total_equals_records_acknowledged_under_concurrent_load() -> None:
    result = run_load(
        LoadConfig(
            seconds=3.0,
            producers=2,
            max_batches=600,
            reference_rows=5_000,
            distinct_batches=5,
            window_records=5_000,
            warmup_batches=3,
            rest_scrapes=5,
        )
    )
    assert result.batches_sent > 0
    assert result.unanswered == [] and result.non_202 == []
    assert result.acknowledged_records == result.batches_sent * 1_000
    # Nothing lost, nothing counted twice: the counter and the model list agree with the acks.
    assert result.counted_records == result.warmup_records + result.acknowledged_records
    assert result.listed_records == result.counted_records
    assert not result.counter_went_backwards
    # The scraper and the evaluator really ran alongside the producers.
    assert result.scrape_failures == [] and len(result.scrape_seconds_load) >= 2
    assert result.evaluations_load >= 1 and result.evaluation_success == 1.0
    assert result.consistent
