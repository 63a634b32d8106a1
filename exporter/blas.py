"""One BLAS thread per process: the sidecar's linear algebra is small, and a BLAS thread pool
costs more than it gives.

numpy's and scipy's wheels ship OpenBLAS with a thread per core. After a call large enough to
go parallel (a dot product over a merged reference, in evaluation) the pool's threads spin,
waiting for more work. Measured on the bench machine: in 3 s of back-to-back evaluation the
evaluation worker's BLAS thread used 1.8 s of CPU (a core taken from the server and its
clients) and one wide model's evaluation took 60 ms instead of 23 ms. threadpoolctl sets
every BLAS library already loaded (OpenBLAS, MKL or BLIS; numpy's and scipy's) to one thread,
which an environment variable can only do before the library loads.
"""

from __future__ import annotations

import scipy.linalg  # noqa: F401  (loads scipy's own BLAS, so the limit reaches it too)
from threadpoolctl import threadpool_info, threadpool_limits


def use_one_blas_thread() -> None:
    """Limit every loaded BLAS library to one thread, for the rest of the process."""
    threadpool_limits(limits=1, user_api="blas")


def blas_threads() -> list[int]:
    """Threads each loaded BLAS library may use."""
    libraries = threadpool_info()
    return [int(library["num_threads"]) for library in libraries if library["user_api"] == "blas"]
