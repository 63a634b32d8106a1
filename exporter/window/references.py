"""References named in the config (`models.<name>.reference`): loaded at start, re-read on change.

A reference is a path, a `file://` URL or an `http(s)://` URL, holding a profile file
(exporter.window.profile_file) or raw reference data (JSON records, NDJSON or CSV, told apart by
content and decoded as a PUT of it is). Each has its own thread (`drift-reference-<model>`), so a
slow URL holds up no other model:

- **At start** it reads the reference and installs it, unless the model was restored from
  `state_dir` with the same content (`profile.source`, the SHA-256 of the file's payload or of the
  data and the settings that shape its profile): then the restored window is kept. A configured
  reference whose content differs from the snapshot's wins.
- **A file** is then checked every `reference_poll_interval_seconds`: a change of its device,
  inode, size or modification time (a Kubernetes ConfigMap update swaps the `..data` symlink, so
  the path names a new inode) re-reads it, and a new content replaces the model's reference (and
  restarts its window); the same content changes nothing.
- **An http(s) URL** is read at start only, retried every interval until it loads once.

A reference that cannot be read or parsed is logged as an error naming the model and the
location and counted; the other models load regardless. Until its first load succeeds a model is
`pending` (readiness waits for it); a later broken version leaves the last good one in use.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import unquote, urlsplit

import httpx

from exporter.errors import DomainError
from exporter.settings import Settings
from exporter.window.persistence import StateDirectory
from exporter.window.profile import ReferenceProfile
from exporter.window.profile_file import ProfileFileError, is_profile_file
from exporter.window.reference_data import data_source, file_reference, profile_data, sniff_media
from exporter.window.store import WindowStore

log = logging.getLogger(__name__)

#: Connect, read and write timeout of an http(s) reference, in seconds.
HTTP_TIMEOUT_SECONDS = 30.0

Signature = tuple[int, int, int, int]
"""A file's (device, inode, size, mtime_ns), following symlinks: a change means re-read it."""


class ReferenceLoadError(Exception):
    """A configured reference that cannot be read or parsed; the message names model and place."""


@dataclass(frozen=True)
class ReferenceSource:
    """Where one model's reference is: a local `path`, or an http(s) `url`."""

    location: str
    path: Path | None
    url: str | None

    @classmethod
    def parse(cls, location: str) -> ReferenceSource:
        parts = urlsplit(location)
        if parts.scheme in ("http", "https"):
            return cls(location, None, location)
        if parts.scheme == "file":
            if parts.netloc not in ("", "localhost"):
                raise ReferenceLoadError(f"{location}: a file:// URL names a local file, no host")
            return cls(location, Path(unquote(parts.path)), None)
        if parts.scheme and len(parts.scheme) > 1:  # not a Windows drive letter
            raise ReferenceLoadError(
                f"{location}: scheme {parts.scheme!r} is not file, http or https"
            )
        return cls(location, Path(location), None)

    def signature(self) -> Signature | None:
        """The file's signature now (None for a URL, or a file that is not there)."""
        if self.path is None:
            return None
        try:
            stat = os.stat(self.path)
        except OSError:
            return None
        return (stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns)

    def read(self) -> bytes:
        """The reference's bytes; ReferenceLoadError naming the location when they cannot be had."""
        try:
            if self.path is not None:
                return self.path.read_bytes()
            assert self.url is not None
            response = httpx.get(self.url, timeout=HTTP_TIMEOUT_SECONDS, follow_redirects=True)
            response.raise_for_status()
            return response.content
        except (OSError, httpx.HTTPError) as error:
            raise ReferenceLoadError(f"cannot read {self.location}: {error}") from None


def load_reference(model: str, data: bytes, settings: Settings, location: str) -> ReferenceProfile:
    """`data` (read from `location`) as `model`'s profile: a profile file, else reference data
    decoded by its content; ReferenceLoadError says what is wrong and where."""
    try:
        if is_profile_file(data):
            return file_reference(model, data, settings, location).profile
        media = sniff_media(data)
        profiled = profile_data(model, data, media, settings, max_records=2**62)
    except ProfileFileError as error:
        raise ReferenceLoadError(str(error)) from None
    except DomainError as error:
        raise ReferenceLoadError(f"{location}: {error.message}") from None
    return replace(profiled.profile, source=data_source(data, settings, model))


def check_references(settings: Settings) -> dict[str, ReferenceProfile]:
    """Read and parse every configured reference now (`serve --check-config`); the first
    ReferenceLoadError, naming its model and location, otherwise."""
    loaded = {}
    for model, declared in sorted(settings.models.items()):
        if declared.reference is None:
            continue
        try:
            source = ReferenceSource.parse(declared.reference)
            loaded[model] = load_reference(model, source.read(), settings, source.location)
        except ReferenceLoadError as error:
            raise ReferenceLoadError(f"model {model}: {error}") from None
    return loaded


@dataclass
class ReferenceStatus:
    """One configured reference: whether it is in use, and its failed attempts."""

    location: str
    loaded: bool = False
    failures: int = 0
    error: str | None = None
    source: str | None = None
    signature: Signature | None = None


class ReferenceLoader:
    """The threads that load every configured reference into `store` and keep it current.

    `installed(model)` is called after a new reference is installed (the app drops the model's
    last report); with a `state` directory the model is snapshotted then, like after a PUT.
    """

    def __init__(
        self,
        settings: Settings,
        store: WindowStore,
        state: StateDirectory | None = None,
        installed: Callable[[str], None] | None = None,
    ) -> None:
        self._settings = settings
        self._store = store
        self._state = state
        self._installed = installed or (lambda model: None)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._sources: dict[str, ReferenceSource] = {}
        self.statuses: dict[str, ReferenceStatus] = {}
        for model, declared in sorted(settings.models.items()):
            if declared.reference is not None:
                self.statuses[model] = ReferenceStatus(declared.reference)
        self._threads = [
            threading.Thread(
                target=self._run, args=(model,), name=f"drift-reference-{model}", daemon=True
            )
            for model in self.statuses
        ]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        deadline = time.monotonic() + 2.0  # one blocked on a slow URL is a daemon: it dies
        for thread in self._threads:  # with the process, so shutdown never waits for it long
            if thread.is_alive():
                thread.join(max(0.0, deadline - time.monotonic()))

    def pending(self) -> dict[str, str]:
        """Models whose reference is not loaded yet: `loading`, or the error of the last try."""
        with self._lock:
            return {
                model: status.error or "loading"
                for model, status in self.statuses.items()
                if not status.loaded
            }

    def snapshot(self) -> list[tuple[str, bool, int]]:
        """(model, loaded, failures) of every configured reference, for /metrics."""
        with self._lock:
            return [(m, s.loaded, s.failures) for m, s in sorted(self.statuses.items())]

    def _run(self, model: str) -> None:
        interval = self._settings.reference_poll_interval_seconds
        while True:
            self.poll(model)
            if self._stop.wait(interval):
                return

    def poll(self, model: str) -> None:
        """Load `model`'s reference if it is not loaded or its file changed since it was read."""
        status = self.statuses[model]
        try:
            source = self._sources.get(model) or ReferenceSource.parse(status.location)
        except ReferenceLoadError as error:
            self._failed(model, str(error))
            return
        self._sources[model] = source
        signature = source.signature()
        if status.loaded and (source.path is None or signature == status.signature):
            return
        broken = not status.loaded and status.error is not None
        if broken and signature is not None and signature == status.signature:
            return  # the same broken file: wait for it to change
        try:
            profile = load_reference(model, source.read(), self._settings, source.location)
        except ReferenceLoadError as error:
            self._failed(model, str(error), signature)
            return
        except Exception as error:  # a check missed something: never stop the thread
            log.exception("model %s: loading reference %s failed", model, source.location)
            self._failed(model, repr(error), signature)
            return
        self._install(model, profile, signature)

    def _install(self, model: str, profile: ReferenceProfile, signature: Signature | None) -> None:
        status = self.statuses[model]
        if profile.source == status.source:  # touched, or a ConfigMap swap of other keys
            with self._lock:
                status.signature = signature
            return
        restored = model in self._store and self._store.get(model).profile.source
        if status.source is None and restored == profile.source:
            log.info("model %s: reference %s is the restored one", model, status.location)
        else:
            try:
                self._store.set_reference(profile)
            except DomainError as error:  # limits.max_models reached
                self._failed(model, f"{status.location}: {error.message}", signature)
                return
            self._installed(model)
            if self._state is not None:
                self._state.save(self._store, model, time.time())
            log.info(
                "model %s: reference loaded from %s (%d features, %d rows, %s)",
                model,
                status.location,
                len(profile.features),
                profile.rows,
                profile.source,
                extra={"event": "reference_loaded", "model": model},
            )
        with self._lock:
            status.loaded, status.error = True, None
            status.source, status.signature = profile.source, signature

    def _failed(self, model: str, error: str, signature: Signature | None = None) -> None:
        status = self.statuses[model]
        kept = " (the last good reference stays in use)" if status.loaded else ""
        if error != status.error:  # a missing file or URL is retried: say so once
            log.error(  # `error` names the location
                "model %s: reference cannot be loaded: %s%s",
                model,
                error,
                kept,
                extra={"event": "reference_failed", "model": model},
            )
        with self._lock:
            status.failures += 1
            status.error = error
            status.signature = signature
