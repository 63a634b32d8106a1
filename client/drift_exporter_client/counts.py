"""LoggerStats: what a DriftLogger counts, for its caller's own metrics."""

from __future__ import annotations

from typing import NamedTuple


class LoggerStats(NamedTuple):
    """Counts of items (records and labels) since the logger was created.

    `queued` is what waits or is being sent now; the rest only grow. `failed_requests` counts
    HTTP attempts, not items. `dropped_invalid` counts what `log()` could not use (features not
    a mapping); `dropped_after_close` what `close` gave up sending when its timeout passed, and
    what was logged after `close`.
    """

    queued: int
    sent: int
    dropped_queue_full: int
    dropped_after_retries: int
    rejected: int
    failed_requests: int
    dropped_invalid: int = 0
    dropped_after_close: int = 0
