"""The package's layers import one way: settings <- engine <- outputs <- service <- web.

Two checks: importing any engine or outputs module, alone in a fresh interpreter, loads no web
stack (Flask, Werkzeug); and the import graph, read from the source with `ast`, has no edge
from a layer to a later one and no cycle. Modules are discovered, so a new one (shortcodes,
blocks, images, ...) is checked without editing this file.
"""

from __future__ import annotations

import ast
import json
import pkgutil
import subprocess
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest
from conftest import ROOT

import contentapi

PACKAGE = Path(contentapi.__file__).parent
LAYERS = ("settings", "engine", "outputs", "service", "web")  # each may import those before it
WEB_STACK = ("flask", "werkzeug")
# Engine or outputs modules known to import the web stack, by name, with why: each is marked
# xfail(strict), so the mark fails (and must go) once the module is pure. None today:
# outputs/serialize.py became a pure function of (index, post, links) in issue 9 item 4.
NOT_PURE_YET: dict[str, str] = {}
PROBE = (
    "import importlib, json, sys; importlib.import_module(sys.argv[1]); "
    f"print(json.dumps(sorted(n for n in sys.modules if n.split('.')[0] in {WEB_STACK!r})))"
)


def discover(*layers: str) -> list[str]:
    """Every module and package under `contentapi.<layer>`, found on disk by pkgutil."""
    found = []
    for layer in layers:
        package = f"contentapi.{layer}"
        found.append(package)
        path = [str(PACKAGE / layer)]
        found += [info.name for info in pkgutil.walk_packages(path, prefix=f"{package}.")]
    return sorted(found)


PURE = discover("engine", "outputs")


def _pending(names: list[str]) -> list[object]:
    """Each name as a test parameter, marked xfail(strict) while it is in NOT_PURE_YET."""
    return [
        pytest.param(name, marks=pytest.mark.xfail(strict=True, reason=NOT_PURE_YET[name]))
        if name in NOT_PURE_YET
        else name
        for name in names
    ]


def test_layers_discovery_finds_the_pipeline():
    for name in ("reader", "schema", "model", "index", "loader", "parsecache", "render"):
        assert f"contentapi.engine.{name}" in PURE, name
    for name in ("analysis", "assets"):
        assert f"contentapi.engine.{name}" in PURE, name
    for name in ("query", "feeds", "search", "serialize"):
        assert f"contentapi.outputs.{name}" in PURE, name


@pytest.fixture(scope="module")
def loaded() -> dict[str, tuple[int, str, str]]:
    """For each engine and outputs module: (exit status, web modules loaded, stderr) of a fresh
    interpreter that imports only it. The interpreters run side by side."""
    running = {
        name: subprocess.Popen(
            [sys.executable, "-c", PROBE, name],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in PURE
    }
    results = {}
    for name, process in running.items():
        out, err = process.communicate(timeout=120)
        results[name] = (process.returncode, out, err)
    return results


@pytest.mark.parametrize("module", _pending(PURE))
def test_layers_engine_and_outputs_import_without_the_web_stack(loaded, module):
    status, out, err = loaded[module]
    assert status == 0, err
    assert json.loads(out) == [], f"importing {module} loads {out.strip()}"


def _resolve(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    """The absolute name a `from ... import` reads from, relative levels resolved."""
    if not node.level:
        return node.module or ""
    parts = module.split(".")
    base = parts if is_package else parts[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST, at_import_time: bool) -> Iterator[ast.Import | ast.ImportFrom]:
    """Import statements; with `at_import_time`, only those run when the module is imported
    (not in function bodies, not under `if TYPE_CHECKING:`)."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        elif at_import_time and isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        elif at_import_time and isinstance(node, ast.If) and _is_type_checking(node):
            yield from _imports(ast.Module(body=node.orelse, type_ignores=[]), at_import_time)
        else:
            yield from _imports(node, at_import_time)


@cache
def sources() -> dict[str, tuple[ast.Module, bool]]:
    """Every module of the package by dotted name: (syntax tree, is a package)."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        is_package = parts[-1] == "__init__"
        name = ".".join(parts[:-1] if is_package else parts)
        found[name] = (ast.parse(path.read_text(encoding="utf-8"), str(path)), is_package)
    return found


@cache
def graph(at_import_time: bool) -> dict[str, set[str]]:
    """module -> the package's modules it imports (a `from package import module` counts as
    the module; importing a module also runs its parent packages)."""
    modules = sources()
    edges: dict[str, set[str]] = {name: set() for name in modules}
    for name, (tree, is_package) in modules.items():
        for node in _imports(tree, at_import_time):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                base = _resolve(node, name, is_package)
                targets = [
                    f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                    for alias in node.names
                ]
            for target in targets:
                while target and target not in modules:  # `import a.b.c` of an attribute
                    target = target.rpartition(".")[0]
                # Its parent packages run first, unless they are the importer's own (which
                # are already being imported, as a package's submodules rely on).
                while target.startswith("contentapi") and not _contains(target, name):
                    edges[name].add(target)
                    target = target.rpartition(".")[0]
    return edges


def _contains(package: str, module: str) -> bool:
    return module == package or module.startswith(package + ".")


def layer(module: str) -> int | None:
    parts = module.split(".")
    return LAYERS.index(parts[1]) if len(parts) > 1 and parts[1] in LAYERS else None


LAYERED = sorted(name for name in sources() if layer(name) is not None)


@pytest.mark.parametrize("module", _pending(LAYERED))
def test_layers_no_module_imports_a_later_layer(module):
    own = layer(module)
    later = sorted(
        target
        for target in graph(at_import_time=False)[module]
        if (other := layer(target)) is not None and own is not None and other > own
    )
    assert not later, f"{module} ({LAYERS[own or 0]}) imports a later layer: {later}"


def test_layers_engine_and_outputs_never_import_flask_or_werkzeug_by_name():
    wrong = []
    for module, (tree, is_package) in sources().items():
        if layer(module) not in {LAYERS.index("engine"), LAYERS.index("outputs")}:
            continue
        if module in NOT_PURE_YET:
            continue
        for node in _imports(tree, at_import_time=False):
            names = (
                [alias.name for alias in node.names]
                if isinstance(node, ast.Import)
                else [_resolve(node, module, is_package)]
            )
            wrong += [f"{module} imports {n}" for n in names if n.split(".")[0] in WEB_STACK]
    assert not wrong, "\n".join(wrong)


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(edges.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_layers_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_layers_import_graph_has_no_cycle():
    found = cycles(graph(at_import_time=True))
    assert not found, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in found)


def test_layers_graph_sees_the_imports_that_exist():
    edges = graph(at_import_time=True)
    assert "contentapi.engine.model" in edges["contentapi.engine.index"]
    assert "contentapi.service.store" in edges["contentapi.web.app"]
    assert "contentapi.web.errors" in edges["contentapi.web.app"]  # from contentapi.web import …
    assert "contentapi.web.views.listing" in edges["contentapi.web.views.posts"]
    assert "contentapi.web.app" not in edges["contentapi"]  # only in a function: lazy
    assert "contentapi.web.app" in graph(at_import_time=False)["contentapi"]
