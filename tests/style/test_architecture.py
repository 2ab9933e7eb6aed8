"""The shape of the code (docs/architecture.md), asserted: the import graph has no circle (imports at module level and
inside functions alike), the extension type and the API versions each have one home, the stdlib-only modules stay so,
and the handlers stay thin."""

import ast
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "azext_amlk8s"
STDLIB_ONLY = ("_constants", "_text", "_catalogue", "_docdata", "health")


def _modules():
    return {path.stem: ast.parse(path.read_text(encoding="utf-8")) for path in PACKAGE.glob("*.py")}


def _own_imports(tree):
    """The azext_amlk8s modules a module imports, wherever the import statement is."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("azext_amlk8s"):
            if node.module == "azext_amlk8s":
                found.update(alias.name for alias in node.names)
            else:
                found.add(node.module.split(".", 1)[1])
        elif isinstance(node, ast.Import):
            found.update(a.name.split(".", 1)[1] for a in node.names if a.name.startswith("azext_amlk8s."))
    return found


def test_the_import_graph_has_no_circle():
    modules = _modules()
    graph = {name: _own_imports(tree) & set(modules) - {name} for name, tree in modules.items()}
    graph.pop("__init__", None)
    state = {}

    def visit(node, path):
        if state.get(node) == "done":
            return
        assert state.get(node) != "open", "import circle: " + " -> ".join(path + [node])
        state[node] = "open"
        for child in sorted(graph.get(node, ())):
            visit(child, path + [node])
        state[node] = "done"
    for name in sorted(graph):
        visit(name, [])


def test_stdlib_only_modules_import_nothing_else():
    modules = _modules()
    for name in STDLIB_ONLY:
        for node in ast.walk(modules[name]):
            if isinstance(node, ast.ImportFrom) and node.module:
                top = node.module.split(".")[0]
                assert top in sys.stdlib_module_names or node.module in (
                    "azext_amlk8s._constants", "azext_amlk8s._text"), (name, node.module)
            elif isinstance(node, ast.Import):
                assert all(a.name.split(".")[0] in sys.stdlib_module_names for a in node.names), name


def _string_constants(tree):
    return [node.value for node in ast.walk(tree) if isinstance(node, ast.Constant) and isinstance(node.value, str)]


def test_the_extension_type_and_api_versions_have_one_home():
    modules = _modules()
    for value in ("Microsoft.AzureML.Kubernetes", "2023-05-01", "2023-05-01-preview", "2024-09-01", "2024-01-01",
                  "2022-09-01", "2021-07-01"):
        homes = sorted(name for name, tree in modules.items() if value in _string_constants(tree))
        assert homes == ["_constants"], (value, homes)
    busy = sorted(name for name, tree in modules.items()
                  for node in ast.walk(tree) if isinstance(node, ast.Assign)
                  for target in node.targets if getattr(target, "id", "").endswith("BUSY_STATES"))
    assert busy == ["_constants"], busy


def test_handlers_are_thin():
    tree = _modules()["custom"]
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            length = node.end_lineno - node.lineno + 1
            assert length <= 45, f"custom.{node.name} has {length} lines; move the logic to the module that owns it"
