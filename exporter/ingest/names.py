"""Which model and feature names are safe to hold, to log and to put in a Prometheus label."""

from __future__ import annotations

import re

from exporter.errors import InvalidName

MAX_NAME_LENGTH = 128

#: Model names appear in URL paths and labels: letters, digits, `_`, `.`, `-`; no path parts.
MODEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")
#: Feature names come from CSV headers too, so spaces and brackets are allowed; no control
#: characters, quotes, slashes or backslashes.
FEATURE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.:()\[\] -]{0,127}")


def check_model_name(model: str) -> str:
    """`model` unchanged, or a 422 saying which characters are allowed."""
    if MODEL_NAME.fullmatch(model) is None:
        raise InvalidName(
            f"invalid model name {_shown(model)}: use 1-{MAX_NAME_LENGTH} characters from "
            "A-Z a-z 0-9 _ . - starting with a letter or digit",
            "path.model",
        )
    return model


def check_feature_name(name: str, location: str) -> str:
    """`name` unchanged, or a 422 naming where the bad name was found."""
    if FEATURE_NAME.fullmatch(name) is None or name.endswith(" "):
        raise InvalidName(
            f"invalid feature name {_shown(name)}: use 1-{MAX_NAME_LENGTH} characters from "
            "A-Z a-z 0-9 _ . : ( ) [ ] - and space, starting with a letter, digit or _",
            location,
        )
    return name


def _shown(name: str) -> str:
    """The name as it may safely appear in an error body or a log line: escaped and cut."""
    shown = name if len(name) <= 64 else name[:64] + "..."
    return ascii(shown)
