"""Process-wide tuning of the `drift-exporter` server, done once by the CLI at start-up.

Nothing here runs when an app is built (`create_app` and its lifespan change nothing global),
so tests and embedders can build many apps in one interpreter and keep their own settings.
Each switch stays only while a benchmark shows it earns its keep (bench/README.md).
"""

from __future__ import annotations

import gc

from exporter.blas import use_one_blas_thread
from exporter.memory import release_freed_memory

#: Cyclic-GC thresholds (defaults 700, 10, 10). A young-generation pass visits only the objects
#: still alive, so waiting for 50,000 allocations instead of 700 lets a request's temporaries die
#: first: far fewer passes, fewer objects promoted, and so fewer full collections (4-5 ms each,
#: on the event loop's thread) under ingest.
GC_THRESHOLDS = (50_000, 20, 20)


def tune_for_serving() -> None:
    """Tune this process for serving; call once, after the imports, before the app starts."""
    use_one_blas_thread()  # before the evaluation worker is forked: it inherits the limit
    # The start-up garbage goes, and its pages back to the system: a page the server later
    # reuses would otherwise become a private copy in the evaluation worker forked from it.
    gc.collect()
    release_freed_memory()
    gc.set_threshold(*GC_THRESHOLDS)
