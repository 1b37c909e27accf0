"""The shape of the code, read from its source: small modules and functions, no import circles, private names
kept private, routing that never reads the words of a message, and errors sorted by who can put them right."""

from __future__ import annotations

import ast
import builtins
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LAYERS = ("agent", "graphs", "tools", "prompts", "bench")
MOST_LINES = 300
MOST_FUNCTION_LINES = 40


def sources() -> dict[str, Path]:
    """Every module of the project outside tests, by dotted name."""
    found = {}
    for layer in LAYERS:
        for path in sorted((ROOT / layer).rglob("*.py")):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
            found[name] = path
    return found


@cache
def tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"))


def imported(name: str, path: Path, modules: dict[str, Path]) -> list[tuple[str, str, int]]:
    """(module imported, name taken from it or "", line) for each project import in a module, at any depth."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(tree(path)):
        if isinstance(node, ast.Import):
            found += [(alias.name, "", node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            for alias in node.names:
                whole = f"{base}.{alias.name}"
                found.append((whole, "", node.lineno) if whole in modules else (base, alias.name, node.lineno))
    return [item for item in found if item[0].split(".")[0] in LAYERS]


def test_no_module_outside_tests_is_over_300_lines():
    long = {name: n for name, path in sources().items()
            if (n := len(path.read_text(encoding="utf-8").splitlines())) > MOST_LINES}
    assert not long, f"modules over {MOST_LINES} lines: {long}"


def test_no_function_outside_tests_is_over_40_lines():
    long = []
    for name, path in sources().items():
        for node in ast.walk(tree(path)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                first = min([node.lineno] + [d.lineno for d in node.decorator_list])
                if (size := node.end_lineno - first + 1) > MOST_FUNCTION_LINES:
                    long.append(f"{name}.{node.name} ({size})")
    assert not long, f"functions over {MOST_FUNCTION_LINES} lines: {long}"


def test_no_import_circle():
    modules = sources()
    edges = {name: {target for target, _, _ in imported(name, path, modules) if target in modules and target != name}
             for name, path in modules.items()}
    # A package's __init__ runs before any of its modules; a module importing its own package is no circle.
    edges = {name: {t for t in targets if not name.startswith(t + ".")} for name, targets in edges.items()}
    circles, state = [], {}

    def visit(name: str, trail: list[str]) -> None:
        state[name] = "open"
        for target in sorted(edges[name]):
            if state.get(target) == "open":
                circles.append(trail[trail.index(target):] + [target])
            elif target not in state:
                visit(target, trail + [target])
        state[name] = "closed"

    for name in sorted(modules):
        if name not in state:
            visit(name, [name])
    assert not circles, f"import circles: {circles}"


def private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def test_no_private_name_is_used_outside_its_module():
    modules = sources()
    used = []
    for name, path in modules.items():
        used += [f"{name}:{line} imports {target}.{taken}" for target, taken, line in imported(name, path, modules)
                 if private(taken)]
        aliases = {}  # the names a module's imports bind to other project modules
        for node in ast.walk(tree(path)):
            if isinstance(node, ast.ImportFrom) and node.module:
                aliases |= {alias.asname or alias.name: f"{node.module}.{alias.name}" for alias in node.names
                            if f"{node.module}.{alias.name}" in modules}
            elif isinstance(node, ast.Import):
                aliases |= {alias.asname or alias.name: alias.name for alias in node.names if alias.name in modules}
        used += [f"{name}:{node.lineno} uses {aliases[node.value.id]}.{node.attr}" for node in ast.walk(tree(path))
                 if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                 and node.value.id in aliases and private(node.attr)]
    assert not used, "private names used outside their module: " + "; ".join(used)


def routers() -> list[tuple[str, ast.FunctionDef]]:
    """The functions handed to add_conditional_edges in graphs/storyboard.py."""
    module = tree(ROOT / "graphs" / "storyboard.py")
    names = {node.args[1].id for node in ast.walk(module) if isinstance(node, ast.Call)
             and isinstance(node.func, ast.Attribute) and node.func.attr == "add_conditional_edges"
             and len(node.args) > 1 and isinstance(node.args[1], ast.Name)}
    return [(node.name, node) for node in module.body if isinstance(node, ast.FunctionDef) and node.name in names]


def test_the_routers_are_found():
    assert {name for name, _ in routers()} >= {"after_correct", "after_inpaint", "after_critique", "after_export"}


@pytest.mark.parametrize("name, function", routers(), ids=[name for name, _ in routers()])
def test_no_router_reads_the_notice_or_any_message_text(name, function):
    read = {node.attr for node in ast.walk(function) if isinstance(node, ast.Attribute)}
    assert not read & {"notice", "pending", "applied", "chat"}, f"{name} reads {read & {'notice', 'pending'}}"
    called = {node.func.id for node in ast.walk(function) if isinstance(node, ast.Call)
              and isinstance(node.func, ast.Name)}
    assert "unchanged" not in called


BASES = ("InputError", "SetupError", "MachineError")
"""Who can put an error right: the person, the operator, the machine (tools/errors.py)."""
CAUGHT_BY_FRONT_ENDS = {"ShotsmithError", *BASES, "Cancelled"}
FRONT_ENDS = ("agent.cli", "agent.bots")


def base_name(node: ast.expr) -> str:
    return node.attr if isinstance(node, ast.Attribute) else getattr(node, "id", "")


@cache
def error_classes() -> dict[str, tuple[str, set[str]]]:
    """Every exception class the project defines: name -> (module, names of its bases)."""
    classes = {(name, node.name): {base_name(b) for b in node.bases} for name, path in sources().items()
               for node in ast.walk(tree(path)) if isinstance(node, ast.ClassDef)}
    errors = {name for name, value in vars(builtins).items() if isinstance(value, type)
              and issubclass(value, BaseException)}
    found, grown = {}, True
    while grown:  # a class is an exception when one of its bases is
        grown = False
        for (module, cls), bases in classes.items():
            if cls not in found and bases & (errors | set(found)):
                found[cls], grown = (module, bases), True
    return found


def ancestors(cls: str) -> set[str]:
    classes, seen, todo = error_classes(), set(), [cls]
    while todo:
        for base in classes.get(todo.pop(), ("", set()))[1] - seen:
            seen.add(base)
            todo.append(base)
    return seen


def test_each_layer_keeps_its_errors_in_one_module():
    by_layer = {}
    for cls, (module, _) in error_classes().items():
        by_layer.setdefault(module.split(".")[0], set()).add(module)
    assert by_layer.get("tools") == {"tools.errors"} and by_layer.get("graphs") == {"graphs.errors"}
    assert by_layer.get("agent") == {"agent.errors"}
    assert all(len(modules) == 1 for modules in by_layer.values()), by_layer


def raised() -> set[str]:
    """The names of the classes a `raise Name(...)` or `raise Name` in the project's source raises."""
    found = set()
    for path in sources().values():
        for node in ast.walk(tree(path)):
            if isinstance(node, ast.Raise) and node.exc is not None:
                found.add(base_name(node.exc.func if isinstance(node.exc, ast.Call) else node.exc))
    return found


def test_every_error_says_who_can_put_it_right():
    """A family that is only caught (ExportError) may sit above the bases; whatever is raised sits under one."""
    families = {base for _, bases in error_classes().values() for base in bases} - raised()
    loose = [f"{module}.{cls}" for cls, (module, _) in error_classes().items()
             if module.split(".")[0] != "prompts" and cls not in CAUGHT_BY_FRONT_ENDS | families
             and not ancestors(cls) & set(BASES)]
    assert not loose, f"errors under none of {BASES}: {loose}"
    assert len(error_classes()) >= 20 and {"ExportRefused", "OutOfMemory", "SceneError"} <= raised()


def test_front_ends_catch_only_the_base_classes():
    concrete = set(error_classes()) - CAUGHT_BY_FRONT_ENDS
    caught = []
    for name, path in sources().items():
        if not name.startswith(FRONT_ENDS):
            continue
        for node in ast.walk(tree(path)):
            if isinstance(node, ast.ExceptHandler) and node.type is not None:
                kinds = node.type.elts if isinstance(node.type, ast.Tuple) else [node.type]
                caught += [f"{name}:{node.lineno} {base_name(k)}" for k in kinds if base_name(k) in concrete]
    assert not caught, "front-ends catching a particular error: " + "; ".join(caught)
