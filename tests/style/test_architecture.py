"""The shape of the code (docs/architecture.md), asserted: the import graph has no circle (imports at module level and
inside functions alike), the extension type and the API versions each have one home, the stdlib-only modules stay so,
and the handlers stay thin."""

import ast
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "azext_amlk8s"
STDLIB_ONLY = ("_constants", "_text", "_catalogue", "_docdata", "rules.health")
# The step folders in import order: a module imports from its own folder or one before it (and from the top-level,
# cross-cutting modules). ``act`` sits last because it composes the others, as the handlers do; ``inputs`` sits
# beside the order: it builds the values the other steps own (ClusterRef, SettingsInput, WorkspaceRef), so it imports
# from every folder, and only ``act`` and the az glue import it.
STEPS = ("facts", "rules", "report", "act")


def _modules():
    """Every module of the package by its dotted name below azext_amlk8s ("custom", "rules.settings")."""
    return {".".join(path.relative_to(PACKAGE).with_suffix("").parts): ast.parse(path.read_text(encoding="utf-8"))
            for path in PACKAGE.rglob("*.py")}


def _own_imports(tree):
    """The azext_amlk8s modules a module imports, wherever the import statement is."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("azext_amlk8s"):
            below = node.module.split(".", 1)[1] + "." if "." in node.module else ""
            found.add(below.rstrip("."))          # the folder's __init__ (or the module) runs first
            found.update(below + alias.name for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name.split(".", 1)[1] for a in node.names if a.name.startswith("azext_amlk8s."))
    return found


def test_the_import_graph_has_no_circle():
    modules = _modules()
    graph = {name: _own_imports(tree) & set(modules) - {name} for name, tree in modules.items()}
    graph.pop("__init__", None)
    graph = {name: {c for c in children if c} for name, children in graph.items()}
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
                  "2022-09-01", "2021-07-01", "2021-11-01"):
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


def _folder(name):
    return name.split(".")[0] if "." in name else None


def test_each_step_imports_only_its_own_and_earlier_steps():
    modules = _modules()
    wrong = []
    for name, tree in sorted(modules.items()):
        folder = _folder(name)
        for child in sorted(_own_imports(tree) & set(modules)):
            target = _folder(child)
            if folder in STEPS and folder != "act" and target == "inputs":
                wrong.append(f"{name} -> {child} (only act and the az glue build requests)")
            elif folder in STEPS and target in STEPS and STEPS.index(target) > STEPS.index(folder):
                wrong.append(f"{name} -> {child} ({target} comes after {folder})")
    assert not wrong, "imports against the one-way path:\n" + "\n".join(wrong)


def test_every_step_folder_says_what_it_is():
    for folder in STEPS + ("inputs",):
        init = PACKAGE / folder / "__init__.py"
        assert ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))).startswith("Step "), folder
    assert sorted(p.name for p in PACKAGE.iterdir() if p.is_dir() and p.name != "__pycache__") == sorted(
        STEPS + ("inputs",))
