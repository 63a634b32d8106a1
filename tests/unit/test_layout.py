"""The package's layout rules (issue 12), read from the source with `ast`: nothing is imported.

Imports point downward: `cli` -> `app` -> `api` -> `evaluation`, `prometheus` -> `window`,
`truth`, `ingest` -> `stats`; only `api/`, `app.py` and `cli.py` know HTTP. And modules and
functions stay small: no module over MAX_MODULE_LINES lines, no function over
MAX_FUNCTION_LINES, unless LONG_FUNCTIONS names it and its docstring says why. Each checker is
a pure function over source text, proven on literal violations below before it judges the
package.
"""

from __future__ import annotations

import ast
import textwrap
from collections.abc import Iterator, Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "exporter"
CLIENT = ROOT / "client" / "drift_exporter_client"

MAX_MODULE_LINES = 450
MAX_FUNCTION_LINES = 75

_ABOVE_THE_CORE = ("exporter.api", "exporter.app", "exporter.cli")
#: Package -> what no module in it may import (a module or anything under it). Each package may
#: import itself; everything not listed here (settings, errors, lower packages) is allowed.
MUST_NOT_IMPORT: Mapping[str, tuple[str, ...]] = {
    # Pure: arrays in, numbers out; nothing of the exporter and no HTTP or metrics library.
    "exporter.stats": ("exporter", "fastapi", "starlette", "prometheus_client", "uvicorn"),
    "exporter.ingest": (
        "exporter.window",
        "exporter.truth",
        "exporter.evaluation",
        "exporter.prometheus",
        *_ABOVE_THE_CORE,
    ),
    "exporter.truth": (
        "exporter.window",
        "exporter.evaluation",
        "exporter.prometheus",
        *_ABOVE_THE_CORE,
    ),
    "exporter.window": ("exporter.evaluation", "exporter.prometheus", *_ABOVE_THE_CORE),
    "exporter.evaluation": ("exporter.prometheus", *_ABOVE_THE_CORE),
    "exporter.prometheus": _ABOVE_THE_CORE,
}
#: (importing module, imported module) pairs allowed despite MUST_NOT_IMPORT, and why.
ALLOWED_IMPORTS: Mapping[tuple[str, str], str] = {
    # Evaluation may render: the scheduler publishes each cycle's reports to the board, which
    # renders the drift families' text once per evaluation instead of once per scrape.
    ("exporter.evaluation.scheduler", "exporter.prometheus.board"): "publishes reports",
    # The worker process renders and deflates that text too, off the event loop's core.
    # (prometheus.board reads evaluation.report and .transitions in turn: no module cycle.)
}
HTTP_LIBRARIES = ("fastapi", "starlette")
#: The only modules that may know HTTP (a module or anything under it).
HTTP_MODULES = _ABOVE_THE_CORE

#: Modules other changes are splitting right now: the size limits skip them until those land.
BEING_SPLIT: frozenset[str] = frozenset()
#: "path::qualified.name" -> why that function may be longer than MAX_FUNCTION_LINES; its
#: docstring must say why too. Nothing outside BEING_SPLIT needs an entry today.
LONG_FUNCTIONS: Mapping[str, str] = {}


# --------------------------------------------------------------------------- checkers


def module_name(path: Path) -> str:
    """`exporter/ingest/reader.py` -> `exporter.ingest.reader`; a package is its __init__."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_modules(source: str, module: str, is_package: bool = False) -> Iterator[str]:
    """Every module `source` imports, anywhere in it (TYPE_CHECKING blocks and function
    bodies too), relative imports resolved against `module`. `from package import name`
    imports `package`, and `package.name` too when that is a module of this repository."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                base = node.module or ""
            else:
                package = module.split(".")
                if not is_package:
                    package.pop()
                anchor = package[: len(package) - (node.level - 1)]
                base = ".".join([*anchor, *([node.module] if node.module else [])])
            yield base
            for alias in node.names:
                if _is_module(f"{base}.{alias.name}"):
                    yield f"{base}.{alias.name}"


def _is_module(name: str) -> bool:
    path = ROOT.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def _within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def upward_imports(source: str, module: str, is_package: bool = False) -> list[str]:
    """`importer -> imported` for each import of `source` that breaks the layout rules."""
    found = []
    for imported in sorted(set(imported_modules(source, module, is_package))):
        if (module, imported) in ALLOWED_IMPORTS:
            continue
        for package, forbidden in MUST_NOT_IMPORT.items():
            if not _within(module, package) or _within(imported, package):
                continue
            if any(_within(imported, prefix) for prefix in forbidden):
                found.append(f"{module} -> {imported}")
        http = any(_within(imported, library) for library in HTTP_LIBRARIES)
        if http and not any(_within(module, allowed) for allowed in HTTP_MODULES):
            found.append(f"{module} -> {imported}")
    return sorted(set(found))


def long_functions(source: str, limit: int = MAX_FUNCTION_LINES) -> list[tuple[str, int, str]]:
    """(qualified name, lines from `def` to its last line less its docstring, docstring) of
    each function over `limit` lines, nested functions and methods included."""
    found: list[tuple[str, int, str]] = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                name = f"{prefix}{child.name}"
                if not isinstance(child, ast.ClassDef):
                    length = (child.end_lineno or child.lineno) - child.lineno + 1
                    first = child.body[0]
                    if (
                        isinstance(first, ast.Expr)
                        and isinstance(first.value, ast.Constant)
                        and isinstance(first.value.value, str)
                    ):  # the numpydoc (formula, examples) is wanted, not counted
                        length -= (first.end_lineno or first.lineno) - first.lineno + 1
                    if length > limit:
                        found.append((name, length, ast.get_docstring(child) or ""))
                visit(child, f"{name}.")
            else:
                visit(child, prefix)

    visit(ast.parse(source), "")
    return found


def unexplained_long_functions(
    source: str, path: str, allowed: Mapping[str, str], limit: int = MAX_FUNCTION_LINES
) -> list[str]:
    """`path::name (n lines)` for each function over `limit` that `allowed` does not name, or
    that it names but whose docstring is empty."""
    return [
        f"{path}::{name} ({length} lines)"
        for name, length, docstring in long_functions(source, limit)
        if f"{path}::{name}" not in allowed or not docstring.strip()
    ]


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def _sized_modules() -> list[Path]:
    """Every module held to the size limits: the sidecar's and the client distribution's."""
    return _modules() + sorted(CLIENT.rglob("*.py"))


def _imports() -> Iterator[tuple[str, str]]:
    """(importing module, imported module) for every import in the package."""
    for path in _modules():
        module = module_name(path)
        for imported in imported_modules(path.read_text(), module, path.name == "__init__.py"):
            yield module, imported


def _relative(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


# --------------------------------------------------------------------------- the checkers work


def test_an_import_from_a_higher_package_is_found_in_literal_source() -> None:
    source = textwrap.dedent(
        """
        from typing import TYPE_CHECKING
        from exporter.window.slices import Slice
        if TYPE_CHECKING:
            from exporter.evaluation.report import EvaluationReport
        def late():
            import exporter.api.deps
        """
    )
    assert upward_imports(source, "exporter.window.fake") == [
        "exporter.window.fake -> exporter.api.deps",
        "exporter.window.fake -> exporter.evaluation.report",
    ]


def test_a_relative_or_package_import_is_resolved_before_it_is_judged() -> None:
    assert upward_imports("from ..prometheus import board\n", "exporter.truth.fake") == [
        "exporter.truth.fake -> exporter.prometheus",
        "exporter.truth.fake -> exporter.prometheus.board",
    ]
    assert upward_imports("from . import binning\n", "exporter.stats", is_package=True) == []
    assert upward_imports("from exporter import errors\n", "exporter.stats.fake") == [
        "exporter.stats.fake -> exporter",
        "exporter.stats.fake -> exporter.errors",
    ]
    assert upward_imports("from exporter import api, errors\n", "exporter.truth.fake") == [
        "exporter.truth.fake -> exporter.api",
    ]


def test_http_and_metrics_libraries_are_found_where_they_do_not_belong() -> None:
    source = "import fastapi\nfrom prometheus_client import Gauge\n"
    assert upward_imports(source, "exporter.stats.fake") == [
        "exporter.stats.fake -> fastapi",
        "exporter.stats.fake -> prometheus_client",
    ]
    assert upward_imports("from starlette.requests import Request\n", "exporter.memory") == [
        "exporter.memory -> starlette.requests",
    ]
    assert upward_imports(source, "exporter.api.fake") == []


def test_an_allowed_edge_and_an_import_within_the_package_pass() -> None:
    assert (
        upward_imports(
            "from exporter.prometheus.board import ReportBoard\n", "exporter.evaluation.scheduler"
        )
        == []
    )
    assert upward_imports(
        "from exporter.prometheus.board import ReportBoard\n", "exporter.evaluation.evaluator"
    ) == [
        "exporter.evaluation.evaluator -> exporter.prometheus.board",
    ]
    assert upward_imports("from exporter.stats import psi\n", "exporter.stats.fake") == []


def _function(name: str, body_lines: int, docstring: str = "") -> str:
    head = f"def {name}() -> None:\n"
    doc = f'    """{docstring}"""\n' if docstring else ""
    body = "".join(f"    x{i} = {i}\n" for i in range(body_lines - (1 if docstring else 0)))
    return head + doc + body


def test_a_function_over_the_limit_is_found_in_literal_source() -> None:
    source = (
        _function("short", 74)
        + "\n\nclass Owner:\n"
        + textwrap.indent(_function("long", 75), "    ")
    )
    assert [(name, length) for name, length, _ in long_functions(source)] == [("Owner.long", 76)]
    assert unexplained_long_functions(source, "x.py", {}) == ["x.py::Owner.long (76 lines)"]


def test_a_long_function_passes_only_when_allowed_and_its_docstring_says_why() -> None:
    allowed = {"x.py::long": "one table, read top to bottom"}
    explained = _function("long", 80, docstring="Long because it is one table.")
    assert unexplained_long_functions(explained, "x.py", allowed) == []
    assert unexplained_long_functions(_function("long", 80), "x.py", allowed) == [
        "x.py::long (81 lines)"
    ]


def test_a_nested_function_is_measured_on_its_own() -> None:
    inner = textwrap.indent(_function("inner", 78), "    ")
    source = "def outer() -> None:\n" + inner
    assert [(name, length) for name, length, _ in long_functions(source)] == [
        ("outer", 80),
        ("outer.inner", 79),
    ]


# --------------------------------------------------------------------------- the package


def test_imports_point_downward() -> None:
    found = []
    for path in _modules():
        module = module_name(path)
        found += upward_imports(path.read_text(), module, path.name == "__init__.py")
    assert found == []


def test_every_allowed_import_is_still_made() -> None:
    """An allowance nobody uses any more goes, so the list stays the list of exceptions."""
    assert sorted(set(ALLOWED_IMPORTS) - set(_imports())) == []


def test_no_module_is_over_the_line_limit() -> None:
    over = {
        _relative(path): lines
        for path in _sized_modules()
        if (lines := len(path.read_text().splitlines())) > MAX_MODULE_LINES
        and _relative(path) not in BEING_SPLIT
    }
    assert over == {}


def test_no_function_is_over_the_line_limit_unless_its_docstring_says_why() -> None:
    found = []
    for path in _sized_modules():
        if _relative(path) not in BEING_SPLIT:
            found += unexplained_long_functions(path.read_text(), _relative(path), LONG_FUNCTIONS)
    assert found == []


def test_each_module_skipped_as_being_split_exists() -> None:
    assert [path for path in sorted(BEING_SPLIT) if not (ROOT / path).is_file()] == []
