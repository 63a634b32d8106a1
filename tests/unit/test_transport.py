"""A call's arguments through shared memory: the arrays leave the pickle, come back equal and
backed by the file, and the file is gone once the call is over, however it ended (answered,
failed, the child killed before or after it opened the file, or hung)."""

from __future__ import annotations

import os
import pickle
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from exporter.evaluation.transport import SHARED_MEMORY_DIR, open_parcel, parcel
from exporter.evaluation.worker import EvaluationWorker, WorkerError

pytestmark = pytest.mark.skipif(
    not os.access(SHARED_MEMORY_DIR, os.W_OK), reason="needs a writable /dev/shm"
)


def _arrays(seed: int = 0) -> dict[str, object]:
    rng = np.random.default_rng(seed)
    return {
        "sample": rng.normal(size=50_000),
        "counts": rng.integers(0, 100, size=(7, 3)),
        "fortran": np.asfortranarray(rng.normal(size=(40, 30))),
        "strided": rng.normal(size=1_000)[::3],  # not contiguous: pickled in band
        "empty": np.zeros(0),
        "name": "m",
    }


def _equal(ours: dict[str, object], theirs: dict[str, object]) -> None:
    assert ours.keys() == theirs.keys()
    for key, value in theirs.items():
        if isinstance(value, np.ndarray):
            got = ours[key]
            assert isinstance(got, np.ndarray)
            assert got.dtype == value.dtype and got.shape == value.shape
            np.testing.assert_array_equal(got, value)
        else:
            assert ours[key] == value


def test_the_arrays_travel_outside_the_pickle_and_come_back_equal() -> None:
    value = _arrays()
    with parcel(value) as sent:
        assert sent.path is not None and sent.path.startswith(SHARED_MEMORY_DIR)
        assert len(sent.pickled) < 4_000 < value["sample"].nbytes  # type: ignore[attr-defined]
        received = open_parcel(sent)
    _equal(received, value)


def test_each_buffer_starts_aligned_for_any_dtype() -> None:
    with parcel(_arrays()) as sent:
        assert len(sent.spans) == 4  # sample, counts, fortran, empty; not the strided one
        assert all(offset % 64 == 0 for offset, _ in sent.spans)
        received = open_parcel(sent)
    assert all(a.flags.aligned for a in received.values() if isinstance(a, np.ndarray))


def mapped_file(array: np.ndarray) -> str | None:
    """The file the memory of `array` is mapped from (per /proc/self/maps), None if it is
    anonymous memory: a module-level function, so a worker child can run it too."""
    address = array.__array_interface__["data"][0]
    for line in Path("/proc/self/maps").read_text().splitlines():
        fields = line.split(maxsplit=5)
        start, end = (int(bound, 16) for bound in fields[0].split("-"))
        if start <= address < end:
            return fields[5] if len(fields) == 6 and fields[5].startswith("/") else None
    return None


def test_received_arrays_are_the_files_pages_and_writing_them_leaves_the_file_alone() -> None:
    value = _arrays()
    with parcel(value) as sent:
        assert sent.path is not None
        held = os.open(sent.path, os.O_RDONLY)  # to read the file after its reader removed it
        try:
            sample = open_parcel(sent)["sample"]
            assert mapped_file(sample) == f"{sent.path} (deleted)"
            assert mapped_file(value["sample"]) is None  # type: ignore[arg-type]
            sample[:10] = -1.0  # writable, as an unpickled array is
            offset, length = sent.spans[0]
            in_file = np.frombuffer(os.pread(held, length, offset), dtype=np.float64)
        finally:
            os.close(held)
    np.testing.assert_array_equal(in_file, value["sample"])  # type: ignore[arg-type]
    np.testing.assert_array_equal(sample[10:], value["sample"][10:])  # type: ignore[index]


def test_the_file_is_removed_by_its_reader_and_else_when_the_block_exits() -> None:
    with parcel(_arrays()) as sent:
        assert sent.path is not None and Path(sent.path).exists()
        assert Path(sent.path).stat().st_mode & 0o777 == 0o600
        open_parcel(sent)
        assert not Path(sent.path).exists()
    with parcel(_arrays()) as unread:
        assert unread.path is not None and Path(unread.path).exists()
    assert not Path(unread.path).exists()


def test_the_file_is_removed_when_the_call_fails() -> None:
    with pytest.raises(RuntimeError, match="the call failed"), parcel(_arrays()) as sent:
        assert sent.path is not None and Path(sent.path).exists()
        raise RuntimeError("the call failed")
    assert not Path(sent.path).exists()


def test_without_arrays_there_is_no_file() -> None:
    with parcel(("getpid", (1, 2.0), {"x": "y"})) as sent:
        assert sent.path is None and sent.spans == ()
        assert open_parcel(sent) == ("getpid", (1, 2.0), {"x": "y"})


def test_only_empty_arrays_make_an_empty_file_that_still_opens() -> None:
    value = {"a": np.zeros(0), "b": np.zeros((0, 3), dtype=np.int64)}
    with parcel(value) as sent:
        assert sent.path is not None and os.path.getsize(sent.path) == 0
        received = open_parcel(sent)
    _equal(received, value)
    assert all(array.flags.writeable for array in received.values())


def test_without_shared_memory_the_arrays_go_in_band(tmp_path: Path) -> None:
    value = _arrays(1)
    with parcel(value, directory=str(tmp_path / "missing")) as sent:
        assert sent.path is None and sent.spans == ()
        assert len(sent.pickled) > value["sample"].nbytes  # type: ignore[attr-defined]
        _equal(open_parcel(sent), value)
    assert pickle.loads(sent.pickled)["name"] == "m"


class _Unreadable:
    """Pickles fine; unpickling it raises, as a class the child cannot rebuild would."""

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (int, ("not a number",))


def test_a_pickle_that_cannot_be_rebuilt_raises_in_the_reader_and_leaves_no_file() -> None:
    with parcel((_Unreadable(), _arrays())) as sent:
        with pytest.raises(ValueError, match="invalid literal"):
            open_parcel(sent)
        assert sent.path is not None and not Path(sent.path).exists()


# --------------------------------------------------------------------------- through the worker


def _ours() -> list[str]:
    """The shared-memory files this process has made and not removed."""
    return sorted(str(p) for p in Path(SHARED_MEMORY_DIR).glob(f"drift-exporter-{os.getpid()}-*"))


def parcels_mapped() -> list[str]:
    """In the child: the parcel files it still has mapped."""
    maps = Path("/proc/self/maps").read_text().splitlines()
    return [line for line in maps if "/drift-exporter-" in line]


def fail(array: np.ndarray) -> None:
    raise ArithmeticError(f"no luck with {len(array)} values")


def exit_now(array: np.ndarray) -> None:
    os._exit(3)


@pytest.fixture(scope="module")
def worker() -> Iterator[EvaluationWorker]:
    started = EvaluationWorker()
    yield started
    started.close()


def test_the_child_reads_the_arrays_from_the_file_and_keeps_nothing_after(
    worker: EvaluationWorker,
) -> None:
    sample = _arrays()["sample"]
    where = worker.call(mapped_file, sample)
    assert where.startswith(f"{SHARED_MEMORY_DIR}/drift-exporter-{os.getpid()}-")
    assert where.endswith(" (deleted)")
    assert _ours() == []
    assert worker.call(parcels_mapped) == []


def test_a_failing_call_leaves_no_file_and_nothing_mapped(worker: EvaluationWorker) -> None:
    with pytest.raises(WorkerError, match=r"ArithmeticError.*50000 values"):
        worker.call(fail, _arrays()["sample"])
    assert _ours() == []
    assert worker.call(parcels_mapped) == []


def test_a_call_the_child_cannot_unpickle_leaves_no_file(worker: EvaluationWorker) -> None:
    child = worker.pid
    with pytest.raises(WorkerError, match="ValueError"):
        worker.call(mapped_file, _arrays()["sample"], _Unreadable())
    assert _ours() == []
    assert worker.call(parcels_mapped) == []
    assert worker.pid == child


def test_a_child_dying_after_it_opened_the_file_leaves_none() -> None:
    worker = EvaluationWorker(timeout=5.0)
    try:
        with pytest.raises(WorkerError, match="died during exit_now"):
            worker.call(exit_now, _arrays()["sample"])
        assert _ours() == []
    finally:
        worker.close()


def _stopped_mid_call(worker: EvaluationWorker) -> tuple[threading.Thread, list[BaseException]]:
    """A call to a stopped child (SIGSTOP: it never opens the file), running in a thread, and
    the file it is waiting on written."""
    assert worker.pid is not None
    os.kill(worker.pid, signal.SIGSTOP)
    errors: list[BaseException] = []

    def call() -> None:
        try:
            worker.call(mapped_file, _arrays()["sample"])
        except BaseException as error:  # the test reads it
            errors.append(error)

    thread = threading.Thread(target=call)
    thread.start()
    deadline = time.monotonic() + 10.0
    while not _ours() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(_ours()) == 1, "the call's file never appeared"
    return thread, errors


def test_a_child_killed_before_it_opened_the_file_leaves_none() -> None:
    worker = EvaluationWorker(timeout=30.0)
    try:
        child = worker.pid
        assert child is not None
        thread, errors = _stopped_mid_call(worker)
        os.kill(child, signal.SIGKILL)
        thread.join(30.0)
        assert [type(e) for e in errors] == [WorkerError]
        assert "died during mapped_file" in str(errors[0])
        assert _ours() == []
    finally:
        worker.close()


def test_a_hung_call_leaves_no_file() -> None:
    worker = EvaluationWorker(timeout=3.0)
    try:
        child = worker.pid
        thread, errors = _stopped_mid_call(worker)
        thread.join(30.0)
        assert [type(e) for e in errors] == [WorkerError]
        assert "hung: no answer to mapped_file in 3 s" in str(errors[0])
        assert _ours() == []
        assert worker.pid not in (None, child)
    finally:
        worker.close()
