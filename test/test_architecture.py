# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""The architecture stays as README's "Layout" describes it; checked from the sources alone.

    python -m pytest test/test_architecture.py

Imports are read with ``ast`` (nothing is imported): each layer (folder) of ``mmed_core``
imports only the layers :data:`LAYER_DEPS` allows, no import cycle between modules of
``mmed_core``/``mmed_ros`` (function-level imports included), ``mmed_core`` never imports ROS
or ``mmed_ros``, no shipped module imports the test support ``mmed_ros.testing``, and
function-level imports only where :data:`LAZY_IMPORTS` gives the reason (optional dependencies)
or in command-line modules (start-up time). README's layout table lists every folder with one
line, and the paths and dotted names that docs and module docstrings quote exist.
"""

from __future__ import annotations

import ast
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("mmed_core", "mmed_ros")

# Top-level names mmed_core never imports: the library runs where no ROS is installed.
ROS_ONLY = {
    "mmed_ros",
    "rclpy",
    "rcl_interfaces",
    "sensor_msgs",
    "std_msgs",
    "std_srvs",
    "diagnostic_msgs",
    "builtin_interfaces",
    "cv_bridge",
    "launch",
    "launch_ros",
    "ament_index_python",
    "rosgraph_msgs",
    "lifecycle_msgs",
    "vision_msgs",
}

# Modules whose functions import what they need when run: command-line entry points, where
# ``--help`` and the first stage should not wait for torch, the trainer or ROS to load.
CLI_MODULES = {
    "mmed_core/cli/*.py": "the mmed-* commands: each subcommand loads its layer when it runs",
    "mmed_ros/demo.py": "the demo's entry point: each stage loads its layer when it runs",
}

# Function-level imports that stay, as (file, imported module or "*") -> why. An entry names
# the module imported (its submodules match too); "*" covers a whole file and is only used for
# files that another branch is rewriting now (the TODOs below, which may go stale when that
# branch lands), to keep merges apart. In mmed_ros, ROS packages imported in a function need no
# entry: ROS is optional there outside the node modules.
LAZY_IMPORTS = {
    ("mmed_core/deploy/backends.py", "onnxruntime"): "optional dependency: backend onnxruntime",
    ("mmed_core/deploy/backends.py", "onnx"): "optional dependency: needed by torch.onnx only",
    ("mmed_core/training/trainer.py", "torch.utils.tensorboard"): "optional dependency: "
    "train.tensorboard (tensorboard is not a run-time requirement)",
    ("mmed_ros/conversions.py", "rosbags.image"): "fallback, loaded only where cv_bridge (the "
    "robot's bridge) does not import",
    ("mmed_ros/bag_cli.py", "mmed_core.data"): "CLI start-up: `mmed-bag make` loads the "
    "datasets, `play` never does",
    ("mmed_ros/bag_cli.py", "mmed_core.deploy"): "CLI start-up: only `mmed-bag eval` loads torch",
    ("mmed_ros/bag_cli.py", "mmed_core.cli.adapt"): "CLI start-up: only `mmed-bag adapt` loads "
    "torch to adapt a model",
    ("mmed_ros/bag_cli.py", "mmed_core.atomic"): "CLI start-up: with the `eval` command's imports",
    ("mmed_ros/bag_cli.py", "mmed_ros.evaluation"): "CLI start-up: only `mmed-bag eval` scores",
    ("mmed_ros/bag_cli.py", "mmed_ros.pipeline"): "CLI start-up: the pipeline loads torch; only "
    "`mmed-bag eval` runs it",
    ("mmed_ros/bag_cli.py", "mmed_ros.params"): "CLI start-up: with the `eval` command's imports",
}

# Cycles that exist today only through a function-level import, in files another branch edits.
KNOWN_CYCLES = {}


# ----------------------------------------------------------------------------- reading imports
@dataclass(frozen=True)
class Import:
    module: str  # the importing module, dotted
    file: str  # its path relative to the repository root
    target: str  # the imported module, absolute and dotted
    line: int
    in_function: bool
    type_checking: bool


@cache
def project_modules() -> dict[str, Path]:
    """Dotted name -> file of every module of the shipped packages."""
    mods = {}
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            mods[".".join(parts)] = path
    return mods


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _absolute(module: str, is_package: bool, level: int, name: str | None) -> str:
    if not level:
        return name or ""
    base = module.split(".")
    base = base[: len(base) - level + (1 if is_package else 0)]
    return ".".join([*base, name] if name else base)


def _walk(node: ast.AST, func: bool, tc: bool) -> Iterator[tuple[ast.AST, bool, bool]]:
    for child in ast.iter_child_nodes(node):
        if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            yield from _walk(child, True, tc)
        elif isinstance(child, ast.If) and _is_type_checking(child.test):
            for stmt in child.body:
                yield from _walk(ast.Module(body=[stmt], type_ignores=[]), func, True)
            for stmt in child.orelse:
                yield from _walk(ast.Module(body=[stmt], type_ignores=[]), func, tc)
        elif isinstance(child, (ast.Import, ast.ImportFrom)):
            yield child, func, tc
        else:
            yield from _walk(child, func, tc)


@cache
def imports_of(module: str) -> tuple[Import, ...]:
    path = project_modules()[module]
    is_package = path.name == "__init__.py"
    rel = path.relative_to(ROOT).as_posix()
    out = []
    for node, func, tc in _walk(ast.parse(path.read_text(encoding="utf-8")), False, False):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        else:
            base = _absolute(module, is_package, node.level, node.module)
            # ``from pkg import sub`` imports the module pkg.sub when there is one.
            targets = [
                f"{base}.{a.name}" if f"{base}.{a.name}" in project_modules() else base
                for a in node.names
            ]
        out += [Import(module, rel, t, node.lineno, func, tc) for t in dict.fromkeys(targets)]
    return tuple(out)


def all_imports() -> Iterator[Import]:
    for module in project_modules():
        yield from imports_of(module)


def _project_target(name: str) -> str | None:
    """The project module ``name`` refers to (a name inside a module counts as the module)."""
    mods = project_modules()
    while name and name not in mods:
        name = name.rpartition(".")[0]
    return name or None


def import_graph(functions: bool = True) -> dict[str, set[str]]:
    """module -> project modules it loads at run time (``TYPE_CHECKING`` blocks excluded;
    function-level imports unless ``functions`` is false).

    Importing ``a.b.c`` also runs the ``__init__`` of ``a`` and ``a.b``; those edges are
    kept unless the package encloses the importer (it is then loaded already).
    """
    graph: dict[str, set[str]] = {m: set() for m in project_modules()}
    for imp in all_imports():
        target = _project_target(imp.target)
        if imp.type_checking or target is None or (imp.in_function and not functions):
            continue
        parts = target.split(".")
        for i in range(1, len(parts) + 1):
            dep = ".".join(parts[:i])
            enclosing = imp.module == dep or imp.module.startswith(dep + ".")
            if dep in project_modules() and not enclosing:
                graph[imp.module].add(dep)
    return graph


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm (iterative): the components with more than one module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            v, children = work[-1]
            for w in children:
                if w not in index:
                    index[w] = low[w] = len(index)
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(graph[w]))))
                    break
                if w in on_stack:
                    low[v] = min(low[v], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
                if low[v] == index[v]:
                    comp = []
                    while True:
                        w = stack.pop()
                        on_stack.discard(w)
                        comp.append(w)
                        if w == v:
                            break
                    if len(comp) > 1:
                        found.append(sorted(comp))
    return found


def _cycle_text(comp: list[str], functions: bool = True) -> str:
    lines = []
    for m in comp:
        for imp in imports_of(m):
            t = _project_target(imp.target)
            if imp.type_checking or (imp.in_function and not functions):
                continue
            if t in comp and t != m:
                kind = " (in a function)" if imp.in_function else ""
                lines.append(f"  {imp.file}:{imp.line} imports {t}{kind}")
    return "\n".join(dict.fromkeys(lines))


# ----------------------------------------------------------------------------- imports
def test_the_reader_sees_the_packages() -> None:
    mods = project_modules()
    assert "mmed_core.network.base" in mods and "mmed_ros.perception_node" in mods
    targets = {i.target for i in imports_of("mmed_core.network.base")}
    assert "mmed_core.network.config" in targets and "torch" in targets


def test_no_import_cycles() -> None:
    graph = import_graph()
    cycles = [c for c in strongly_connected(graph) if frozenset(c) not in KNOWN_CYCLES]
    assert not cycles, (
        "import cycles (each module of a cycle and the imports that close it):\n"
        + ("\n".join(f"{' <-> '.join(c)}:\n{_cycle_text(c)}" for c in cycles))
    )


def test_no_import_cycles_at_module_level() -> None:
    """Without exceptions: a module-level cycle breaks whichever module is imported first."""
    graph = import_graph(functions=False)
    cycles = strongly_connected(graph)
    assert not cycles, "module-level import cycles:\n" + "\n".join(
        f"{' <-> '.join(c)}:\n{_cycle_text(c, functions=False)}" for c in cycles
    )


def test_known_cycles_still_exist() -> None:
    """A known cycle that is gone must leave KNOWN_CYCLES, so it cannot come back unseen."""
    present = {frozenset(c) for c in strongly_connected(import_graph())}
    stale = [
        sorted(c)
        for c, reason in KNOWN_CYCLES.items()
        if c not in present and not reason.startswith("TODO")  # TODOs go with their branch
    ]
    assert not stale, f"remove from KNOWN_CYCLES (the cycle is gone): {stale}"


# The layers of mmed_core (its folders) and the layers each may import, as README "Layout"
# describes them; errors.py, atomic.py and imagefile.py sit below every layer and import none
# (but each other). Every layer may use the SHARED_MODULES (the import-cycle test still applies).
LAYER_DEPS = {
    "data": set(),
    "network": set(),
    "deploy": {"data", "network"},
    "training": {"data", "network", "deploy"},
    "evaluation": {"data", "network", "deploy"},
    "cli": {"data", "network", "deploy", "training", "evaluation"},
}
BASE_MODULES = {"mmed_core.errors", "mmed_core.atomic", "mmed_core.imagefile"}
SHARED_MODULES = {
    "mmed_core.data.classes": "the datasets' class tables and palettes (plain data)",
    "mmed_core.network.modalities": "the modality registry, which every layer iterates",
}


def _layer(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "mmed_core" and len(parts) > 2 else None


def test_layers_import_only_the_layers_below() -> None:
    layers = {m.split(".")[1] for m in project_modules() if _layer(m)}
    assert layers == set(LAYER_DEPS), (
        f"mmed_core's folders {sorted(layers)} differ from LAYER_DEPS {sorted(LAYER_DEPS)}: "
        "say what a new layer may import (and README 'Layout' what it is)"
    )
    bad = []
    for imp in all_imports():
        target = _project_target(imp.target)
        if target is None or imp.type_checking or not target.startswith("mmed_core"):
            continue
        src, dst = _layer(imp.module), _layer(target)
        if imp.module in BASE_MODULES and target not in BASE_MODULES:
            bad.append(f"{imp.file}:{imp.line} imports {target} (base modules import no layer)")
        elif (
            src
            and dst
            and src != dst
            and dst not in LAYER_DEPS[src]
            and (target not in SHARED_MODULES)
        ):
            bad.append(f"{imp.file}:{imp.line}: layer {src} imports {target} (layer {dst})")
    assert not bad, "imports against the layering (LAYER_DEPS, README 'Layout'):\n" + "\n".join(
        bad
    )


def test_mmed_core_never_imports_ros() -> None:
    bad = [
        f"{i.file}:{i.line} imports {i.target}"
        for i in all_imports()
        if i.module.startswith("mmed_core") and i.target.split(".")[0] in ROS_ONLY
    ]
    assert not bad, "mmed_core must run without ROS (README 'Layout'):\n" + "\n".join(bad)


# The mmed_ros modules that talk to ROS; every other one (conversions, params, pipeline,
# evaluation, the bag tools, the demo driver) must import without rclpy, for the offline tools
# (mmed-bag eval) and the tests on machines without ROS.
ROS_NODE_MODULES = {"mmed_ros.perception_node", "mmed_ros.evaluator_node", "mmed_ros.node_utils"}


def test_ros_free_modules_load_no_ros() -> None:
    graph = import_graph(functions=False)
    bad = []
    for start in sorted(m for m in project_modules() if m not in ROS_NODE_MODULES):
        seen, todo = {start}, [start]
        while todo:  # everything importing ``start`` loads at module level
            m = todo.pop()
            for imp in imports_of(m):
                if imp.in_function or imp.type_checking:
                    continue
                if imp.target.split(".")[0] in ROS_ONLY - {"mmed_ros"}:
                    bad.append(f"{start} loads {imp.target} ({imp.file}:{imp.line})")
            for t in graph[m] - seen:
                if t in ROS_NODE_MODULES:
                    bad.append(f"{start} loads the node module {t} (via {m})")
                else:
                    seen.add(t)
                    todo.append(t)
    assert not bad, (
        "only the node modules may import ROS at module level (the rest runs without it):\n"
        + "\n".join(sorted(set(bad)))
    )


def test_no_shipped_module_imports_the_test_support() -> None:
    bad = [
        f"{i.file}:{i.line} imports {i.target}"
        for i in all_imports()
        if i.target.startswith("mmed_ros.testing") and i.module != "mmed_ros.testing"
    ]
    assert not bad, (
        "mmed_ros.testing is test support; shipped modules use mmed_ros.node_processes:\n"
        + "\n".join(bad)
    )


def _is_cli(file: str) -> bool:
    return any(Path(file).match(pattern) for pattern in CLI_MODULES)


def _matches(name: str, target: str) -> bool:
    if name == "@ros":
        return target.split(".")[0] in ROS_ONLY - {"mmed_ros"}
    return name == "*" or target == name or target.startswith(name + ".")


def _lazy_reason(imp: Import) -> str | None:
    if imp.module.startswith("mmed_ros.") and _matches("@ros", imp.target):
        return "ROS is optional in mmed_ros outside the nodes (bag tools, tests, launch helpers)"
    for (file, name), reason in LAZY_IMPORTS.items():
        if Path(imp.file).match(file) and _matches(name, imp.target):
            return reason
    return None


def test_function_level_imports_have_a_reason() -> None:
    bad = [
        f"{i.file}:{i.line} imports {i.target} inside a function"
        for i in all_imports()
        if i.in_function and not i.type_checking and not _is_cli(i.file) and not _lazy_reason(i)
    ]
    assert not bad, (
        "imports belong at module top; function-level imports only for optional dependencies "
        "(add the reason to LAZY_IMPORTS in test/test_architecture.py) or in CLI modules:\n"
        + "\n".join(bad)
    )


def test_lazy_import_entries_are_used() -> None:
    """An entry whose import is gone must go too (TODO entries go when their branch lands)."""
    for (file, name), reason in LAZY_IMPORTS.items():
        assert reason.strip(), f"LAZY_IMPORTS[{file}, {name}] needs a reason"
        if name == "*" or reason.startswith("TODO"):
            continue
        assert (ROOT / file).is_file(), f"LAZY_IMPORTS names a missing file {file}"
        module = next(m for m, p in project_modules().items() if p == ROOT / file)
        used = [i for i in imports_of(module) if i.in_function and _matches(name, i.target)]
        assert used, f"LAZY_IMPORTS[{file}, {name}]: no such function-level import any more"


# ----------------------------------------------------------------------------- README layout
def _layout_section() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(r"^## Layout\s*$(.*?)(?=^## |\Z)", text, re.M | re.S)
    assert match, "README.md has no '## Layout' section"
    return match.group(1)


def _tracked_files() -> list[str]:
    try:
        out = subprocess.run(
            ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True, timeout=30
        ).stdout.decode()
        files = [f for f in out.split("\0") if f]
    except (OSError, subprocess.SubprocessError):
        files = []
    if files:
        return files
    # Not a git checkout (an unpacked archive): what is on disk, minus generated folders.
    skip = {"build", "install", "log", "outputs", "runs", "__pycache__"}

    def generated(part: str) -> bool:
        return part in skip or part.endswith(".egg-info") or (part[:1] == "." and part != ".ci")

    return [
        p.relative_to(ROOT).as_posix()
        for p in ROOT.rglob("*")
        if p.is_file() and not any(generated(part) for part in p.relative_to(ROOT).parts)
    ]


def required_layout_folders() -> list[str]:
    """Every top-level folder of the repository and every subpackage folder of mmed_core."""
    folders = set()
    for f in _tracked_files():
        parts = f.split("/")
        if len(parts) > 1:
            folders.add(parts[0] + "/")
        if len(parts) > 2 and parts[0] == "mmed_core" and parts[2].endswith(".py"):
            folders.add(f"mmed_core/{parts[1]}/")
    return sorted(folders)


_LAYOUT_ROW = re.compile(r"^\|?\s*`?(?P<folder>[\w.\-/]+/)`?\s*(?:\||\s)\s*(?P<what>.*?)\s*\|?$")


def layout_rows() -> dict[str, str]:
    rows = {}
    for line in _layout_section().splitlines():
        m = _LAYOUT_ROW.match(line.strip())
        if m:
            rows[m["folder"]] = m["what"]
    return rows


def test_readme_layout_lists_every_folder() -> None:
    rows = layout_rows()
    missing = [f for f in required_layout_folders() if f not in rows]
    assert not missing, f"README.md 'Layout' lacks a line for: {missing}"
    thin = [f for f, what in rows.items() if len(re.findall(r"\w+", what)) < 3]
    assert not thin, f"README.md 'Layout': say in a few words what these hold: {thin}"
    gone = [f for f in rows if not (ROOT / f).is_dir()]
    assert not gone, f"README.md 'Layout' lists folders that do not exist: {gone}"


# ----------------------------------------------------------------------------- quoted names
_DOC_SKIP = ("test/data/", ".venv/", "build/", "install/", "outputs/", "runs/")
_PATH = re.compile(
    r"(?<![\w./~$-])((?:mmed_core|mmed_ros|benchmarks|config|docs|launch|requirements|resource|"
    r"rviz|scripts|test|\.ci)/[\w./-]*)"
)
_DOTTED = re.compile(r"(?<![\w./-])((?:mmed_core|mmed_ros|benchmarks)(?:\.\w+)+)")


def _doc_texts() -> Iterator[tuple[str, str]]:
    """(source, text) of every tracked markdown file and every module docstring."""
    for f in _tracked_files():
        if f.startswith(_DOC_SKIP):
            continue
        if f.endswith(".md"):
            yield f, (ROOT / f).read_text(encoding="utf-8")
        elif f.endswith(".py") and (ROOT / f).is_file():
            doc = ast.get_docstring(ast.parse((ROOT / f).read_text(encoding="utf-8")))
            if doc:
                yield f"{f} (docstring)", doc


@cache
def _top_level_names(module: str) -> frozenset[str]:
    tree = ast.parse(project_modules()[module].read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for t in targets:
                names.update(n.id for n in ast.walk(t) if isinstance(n, ast.Name))
                names.update(n.attr for n in ast.walk(t) if isinstance(n, ast.Attribute))
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
    return frozenset(names)


def _dotted_exists(name: str) -> bool:
    mods = project_modules()
    parts = name.split(".")
    for cut in range(len(parts), 0, -1):
        module = ".".join(parts[:cut])
        if module in mods:
            break
        if (ROOT / Path(*parts[:cut])).with_suffix(".py").is_file():
            return cut == len(parts) or parts[cut] in _py_names(
                (ROOT / Path(*parts[:cut])).with_suffix(".py")
            )
    else:
        return False
    rest = parts[cut:]
    return not rest or rest[0] in _top_level_names(module)


@cache
def _py_names(path: Path) -> frozenset[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return frozenset(
        n.name for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.ClassDef))
    )


def _path_exists(ref: str) -> bool:
    # On a robot the repository is cloned as the package folder mmed_ros/ (README "On a
    # robot"), so ``mmed_ros/requirements/base.txt`` is the repository's requirements/base.txt.
    head, _, rest = ref.partition("/")
    return (ROOT / ref).exists() or (head == "mmed_ros" and bool(rest) and (ROOT / rest).exists())


def quoted_references() -> Iterator[tuple[str, str, str]]:
    """(source, kind, reference) for every path and dotted name a doc or docstring quotes."""
    for source, text in _doc_texts():
        for m in _PATH.finditer(text):
            if text[m.end() : m.end() + 1] in ("*", "<", "{", "["):
                continue  # a pattern such as config/*.yaml, not a path
            yield source, "path", m.group(1).rstrip(".")
        for m in _DOTTED.finditer(text):
            yield source, "name", m.group(1)


def test_quoted_paths_and_names_exist() -> None:
    refs = list(quoted_references())
    assert len(refs) > 20, "the reader found almost no references: is the regex broken?"
    bad = sorted(
        {
            f"{source}: {kind} {ref}"
            for source, kind, ref in refs
            if not (_path_exists(ref) if kind == "path" else _dotted_exists(ref))
        }
    )
    assert not bad, "docs quote paths or names that do not exist:\n" + "\n".join(bad)


@pytest.mark.parametrize(
    ("ref", "ok"),
    [
        ("mmed_core.network.factory.create_model", True),
        ("mmed_core.network.factory.no_such_function", False),
        ("mmed_core.no_such_module", False),
        ("mmed_ros.testing.tiny_checkpoint", True),
        ("benchmarks.run", True),
    ],
)
def test_dotted_name_check(ref: str, ok: bool) -> None:
    assert _dotted_exists(ref) is ok
