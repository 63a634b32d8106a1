"""WindowStore: every model's window, created by its first reference upload, capped in count."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

from exporter.errors import LimitReached, UnknownModel
from exporter.settings import Settings
from exporter.window.model import Clock, ModelWindow
from exporter.window.profile import ReferenceProfile
from exporter.window.snapshot import WindowState


class WindowStore:
    """Every model's window, created by its first reference upload, capped at max_models."""

    def __init__(self, settings: Settings, clock: Clock = time.time) -> None:
        self._settings = settings
        self._clock = clock
        self._lock = threading.Lock()
        self._models: dict[str, ModelWindow] = {}

    def __contains__(self, model: str) -> bool:
        return model in self._models

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._models))

    def __len__(self) -> int:
        return len(self._models)

    def get(self, model: str) -> ModelWindow:
        """The model's window, or a 404 that says how to create it."""
        window = self._models.get(model)
        if window is None:
            raise UnknownModel(
                f"unknown model {model!r}: upload its reference first "
                f"(PUT /v1/models/{model}/reference)",
                "path.model",
            )
        return window

    def holds(
        self, model: str, window: ModelWindow, then: Callable[[], None] | None = None
    ) -> bool:
        """Whether `model` is still `window` (neither deleted nor deleted and re-created since
        the window was taken); if so, `then()` runs under the store's lock, so a delete cannot
        come between the check and it."""
        with self._lock:
            if self._models.get(model) is not window:
                return False
            if then is not None:
                then()
            return True

    def windows(self) -> list[tuple[str, ModelWindow]]:
        with self._lock:
            return sorted(self._models.items())

    def check_room(self, model: str) -> None:
        """LimitReached if `model` is new and `limits.max_models` models exist already."""
        with self._lock:
            self._check_room(model)

    def _check_room(self, model: str) -> None:
        cap = self._settings.limits.max_models
        if model not in self._models and len(self._models) >= cap:
            raise LimitReached(
                f"limits.max_models ({cap}) reached; delete a model first", "path.model"
            )

    def set_reference(self, profile: ReferenceProfile) -> bool:
        """Install a profile, creating the model if needed; True if the model is new."""
        with self._lock:
            window = self._models.get(profile.model)
            if window is not None:
                window.replace_profile(profile)
                return False
            self._check_room(profile.model)
            self._models[profile.model] = ModelWindow(profile, self._settings, self._clock)
            return True

    def restore(self, state: WindowState) -> None:
        """Reinstate a model from its state (window.persistence), replacing any in memory."""
        window = ModelWindow.from_state(state, self._settings, self._clock)
        with self._lock:
            self._models[state.profile.model] = window

    def delete(self, model: str) -> None:
        with self._lock:
            self.get(model)
            del self._models[model]
