"""The rule of the house, read from the code: a module imports only from its own layer or below, and no
modules import each other in a circle. A new upward import or circle fails here, not in a review."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

import ilsvrc

ROOT = Path(ilsvrc.__file__).parent

# Bottom to top; a module's layer is that of its top-level name under ilsvrc/ (docs/ARCHITECTURE.md).
LAYERS = [
    ("__init__", "errors", "files", "progress"),
    ("data",),
    ("models", "augment", "metrics", "config"),
    ("engine",),
    ("baseline", "label", "bench", "report", "experiment", "scoring"),
    ("cli", "commands", "__main__", "demo", "evaluate", "predict"),
]
LAYER = {name: level for level, names in enumerate(LAYERS) for name in names}


def module_names(root: Path = ROOT) -> dict[str, Path]:
    """'ilsvrc.data.readers.idx' -> its file, for every module of the package."""
    names = {}
    for path in root.rglob("*.py"):
        parts = path.relative_to(root.parent).with_suffix("").parts
        names[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return names


def imported(module: str, source: str, known: set[str]) -> set[str]:
    """The package's modules that `source` imports, anywhere in the file (top level or in a function)."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name in known)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            # `from ilsvrc.data import prepare` imports the module ilsvrc.data.prepare; `from ilsvrc.data
            # import open_dataset`, the package ilsvrc.data
            submodules = {f"{node.module}.{alias.name}" for alias in node.names} & known
            found.update(submodules or ({node.module} & known))
    found.discard(module)
    return found


def layer_of(module: str) -> int:
    parts = module.split(".")
    top = parts[1] if len(parts) > 1 else "__init__"
    if top not in LAYER:
        raise AssertionError(f"{module}: not in any layer; add {top!r} to LAYERS (and to docs/ARCHITECTURE.md)")
    return LAYER[top]


def import_graph(sources: dict[str, str]) -> dict[str, set[str]]:
    known = set(sources)
    return {module: imported(module, text, known) for module, text in sources.items()}


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    return sorted(f"{m} (layer {layer_of(m)}) imports {d} (layer {layer_of(d)})"
                  for m, deps in graph.items() for d in deps if layer_of(d) > layer_of(m))


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


@pytest.fixture(scope="module")
def graph():
    return import_graph({name: path.read_text() for name, path in module_names().items()})


def test_every_module_imports_only_its_layer_or_below(graph):
    assert upward_imports(graph) == []


def test_no_import_circles(graph):
    assert circles(graph) == []


def test_the_checks_catch_an_upward_import_and_a_circle():
    sources = {"ilsvrc.data.loader": "from ilsvrc.engine.pipeline import Pipeline\n",
               "ilsvrc.engine.pipeline": "def f():\n    from ilsvrc.engine.train import g\n",
               "ilsvrc.engine.train": "from ilsvrc.engine import pipeline\n", "ilsvrc.engine": ""}
    graph = import_graph(sources)
    assert upward_imports(graph) == ["ilsvrc.data.loader (layer 1) imports ilsvrc.engine.pipeline (layer 3)"]
    assert circles(graph) == [["ilsvrc.engine.pipeline", "ilsvrc.engine.train"]]
