"""r1lib's folders are its layers: imports point down them, never in a circle, never at underscores.

Read with ``ast`` (no code runs), counting every import: at module level, inside functions and
inside ``if`` blocks alike, because a lazy import is still an import.

- Layers: core (``r1lib/*.py``) < grading (``r1lib/grading/``) < labs (``r1lib/labs/``) < figures
  (``r1lib/figures/``); exercises (``r1lib/exercises/``) sit above labs and never import figures.
  The face (``r1lib/__init__.py`` and the ``python -m r1lib.score`` entry point) may import
  everything and is imported by nothing inside the package.
- No import circle among r1lib's modules (a sub-package's ``__init__`` counts as a module: importing
  ``r1lib.grading.answers`` runs ``r1lib/grading/__init__.py`` first).
- No module imports another module's underscore names (``from .x import _helper``, ``from ._x
  import helper``) or reaches for them through an imported module (``x._helper``).
- Benchmarks: ``benchmarks/run.py`` collects the others; every other benchmark module imports
  only the shared machinery (``timing``) from its siblings; no circle.

The checker is tested on small packages written to a temporary folder, so it can fail.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

LAYER_ORDER = {"core": 0, "grading": 1, "labs": 2, "figures": 3}
# What each layer may import besides itself; "face" may import anything.
ALLOWED = {
    "core": {"core"},
    "grading": {"core", "grading"},
    "labs": {"core", "grading", "labs"},
    "figures": {"core", "grading", "labs", "figures"},
    "exercises": {"core", "grading", "labs", "exercises"},
}
FACE_MODULES = {"r1lib", "r1lib.score"}


@dataclass
class Module:
    name: str                      # dotted name, e.g. "r1lib.grading.answers"
    path: Path
    is_package: bool
    imports: list = field(default_factory=list)   # (line, target module, imported names)
    attr_uses: list = field(default_factory=list)  # (line, local name, attribute)


def module_name(path: Path, root: Path) -> tuple[str, bool]:
    parts = list(path.relative_to(root).with_suffix("").parts)
    is_package = parts[-1] == "__init__"
    if is_package:
        parts = parts[:-1]
    return ".".join(parts), is_package


def read_modules(package_dir: Path) -> dict[str, Module]:
    """Every module of the package at ``package_dir`` with its imports, read with ast."""
    root = package_dir.parent
    modules: dict[str, Module] = {}
    for path in sorted(package_dir.rglob("*.py")):
        name, is_package = module_name(path, root)
        modules[name] = Module(name, path, is_package)
    for mod in modules.values():
        tree = ast.parse(mod.path.read_text(), filename=str(mod.path))
        base = mod.name if mod.is_package else mod.name.rpartition(".")[0]
        local_modules: dict[str, str] = {}  # local name -> module it is bound to
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    mod.imports.append((node.lineno, alias.name, []))
                    if alias.asname:
                        local_modules[alias.asname] = alias.name
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    parts = base.split(".")
                    anchor = parts[: len(parts) - node.level + 1]
                    target = ".".join(anchor + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                names = [a.name for a in node.names]
                mod.imports.append((node.lineno, target, names))
                for alias in node.names:
                    if f"{target}.{alias.name}" in modules:
                        local_modules[alias.asname or alias.name] = f"{target}.{alias.name}"
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                    and node.value.id in local_modules):
                mod.attr_uses.append((node.lineno, local_modules[node.value.id], node.attr))
    return modules


def edges(modules: dict[str, Module], top: str) -> dict[str, set]:
    """Module -> the package modules its imports run (``from p import m`` runs p and p.m)."""
    graph: dict[str, set] = {name: set() for name in modules}
    for mod in modules.values():
        for _, target, names in mod.imports:
            if not (target == top or target.startswith(top + ".")):
                continue
            hit = set()
            parts = target.split(".")
            # the sub-packages on the way (never the top package: it is the face)
            for i in range(2, len(parts) + 1):
                hit.add(".".join(parts[:i]))
            for n in names:
                if f"{target}.{n}" in modules:
                    hit.add(f"{target}.{n}")
            hit.discard(mod.name)
            # A module's own ancestor packages run before it, whatever it imports: no edge.
            ancestors = {mod.name.rsplit(".", i)[0] for i in range(1, mod.name.count(".") + 1)}
            graph[mod.name] |= {h for h in hit if h in modules and h != top and h not in ancestors}
    return graph


def find_cycles(graph: dict[str, set]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each a cycle."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set = set()
    out: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1 or v in graph.get(v, ()):
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def layer_of(name: str, top: str, packages: frozenset = frozenset()) -> str:
    """"face", "core" (a module at the top), or the sub-package's name (grading, labs, ...)."""
    if name in FACE_MODULES or name == top:
        return "face"
    parts = name.split(".")
    if len(parts) == 2 and name not in packages:
        return "core"
    return parts[1]


def layer_violations(modules: dict[str, Module], top: str) -> list[str]:
    problems = []
    graph = edges(modules, top)
    packages = frozenset(n for n, m in modules.items() if m.is_package)
    for name, targets in sorted(graph.items()):
        src = layer_of(name, top, packages)
        if src == "face":
            continue
        if src not in ALLOWED:
            problems.append(f"{modules[name].path}: module {name} is in no known layer ({src!r})")
            continue
        for t in sorted(targets):
            dst = layer_of(t, top, packages)
            if dst == "face" or dst not in ALLOWED[src]:
                problems.append(f"{modules[name].path}: {src} module {name} imports {t} ({dst}): "
                                f"imports must point down the layers")
    return problems


def underscore_violations(modules: dict[str, Module], top: str) -> list[str]:
    problems = []
    for mod in modules.values():
        for line, target, names in mod.imports:
            if not (target == top or target.startswith(top + ".")):
                continue
            if any(p.startswith("_") and not p.startswith("__") for p in target.split(".")):
                problems.append(f"{mod.path}:{line}: imports from the underscore module {target}")
            for n in names:
                if n.startswith("_") and not n.startswith("__") and target != mod.name:
                    problems.append(f"{mod.path}:{line}: imports the underscore name {n} from {target}")
        for line, target, attr in mod.attr_uses:
            if attr.startswith("_") and not attr.startswith("__") and target != mod.name:
                problems.append(f"{mod.path}:{line}: uses the underscore name {attr} of {target}")
    return problems


def face_violations(modules: dict[str, Module], top: str) -> list[str]:
    """Modules inside the package that reach for the face: names from ``top/__init__.py``
    (``from r1lib import pass_at_k``, ``import r1lib`` then ``r1lib.pass_at_k``) or the other
    face modules (``r1lib.score``). ``from r1lib import metrics`` (a module) is fine."""
    problems = []
    for mod in modules.values():
        if mod.name in FACE_MODULES or mod.name == top:
            continue
        for line, target, names in mod.imports:
            if target == top and not names:
                problems.append(f"{mod.path}:{line}: imports {top} itself (the face): import the "
                                f"module that holds the name instead")
            elif target == top and not all(f"{top}.{n}" in modules for n in names):
                problems.append(f"{mod.path}:{line}: imports names from {top}/__init__.py (the face): {names}")
            if target in FACE_MODULES - {top} or any(f"{target}.{n}" in FACE_MODULES - {top} for n in names):
                problems.append(f"{mod.path}:{line}: imports the entry point {target} {names or ''}".rstrip())
    return problems


def cycle_report(modules: dict[str, Module], graph: dict[str, set]) -> list[str]:
    return [" <-> ".join(str(modules[m].path.relative_to(modules[m].path.parents[len(m.split('.')) - 1]))
                         if m in modules else m for m in comp)
            for comp in find_cycles(graph)]


# ----------------------------------------------------------------------------------- r1lib itself

R1LIB = read_modules(ROOT / "r1lib")


def test_every_module_is_in_a_layer():
    packages = frozenset(n for n, m in R1LIB.items() if m.is_package)
    layers = {layer_of(name, "r1lib", packages) for name in R1LIB}
    assert layers <= {"face", *ALLOWED}, layers
    # the floor plan the docstrings describe exists
    for pkg in ("r1lib.grading", "r1lib.labs", "r1lib.figures", "r1lib.exercises"):
        assert pkg in R1LIB and R1LIB[pkg].is_package


def test_r1lib_has_no_import_circle():
    cycles = cycle_report(R1LIB, edges(R1LIB, "r1lib"))
    assert not cycles, "import circles: " + "; ".join(cycles)


def test_r1lib_imports_point_down_the_layers():
    problems = layer_violations(R1LIB, "r1lib")
    assert not problems, "\n".join(problems)


def test_r1lib_never_imports_another_modules_underscore_names():
    problems = underscore_violations(R1LIB, "r1lib")
    assert not problems, "\n".join(problems)


def test_the_face_is_imported_by_nothing_inside():
    problems = face_violations(R1LIB, "r1lib")
    assert not problems, "\n".join(problems)


# ----------------------------------------------------------------------------------- benchmarks

def benchmark_imports() -> dict[str, list]:
    siblings = {p.stem for p in (ROOT / "benchmarks").glob("*.py")}
    out = {}
    for path in sorted((ROOT / "benchmarks").glob("*.py")):
        found = []
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found += [(node.lineno, a.name.split(".")[0], []) for a in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                found.append((node.lineno, node.module.split(".")[0], [a.name for a in node.names]))
        out[path.stem] = [(line, mod, names) for line, mod, names in found if mod in siblings]
    return out


def test_benchmarks_share_one_timing_module_and_import_nothing_back():
    imports = benchmark_imports()
    assert "timing" in imports
    for name, found in imports.items():
        for line, mod, _ in found:
            if name == "run":
                continue  # the suite collects every benchmark
            assert mod == "timing", f"benchmarks/{name}.py:{line} imports {mod}: only timing is shared"
    assert not imports["timing"], "timing must not import the benchmarks it serves"
    graph = {name: {mod for _, mod, _ in found} for name, found in imports.items()}
    assert not find_cycles(graph)


def test_benchmarks_never_import_underscore_names():
    for path in sorted((ROOT / "benchmarks").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("r1lib"):
                bad = [a.name for a in node.names if a.name.startswith("_")]
                assert not bad and not any(p.startswith("_") for p in node.module.split(".")), \
                    f"{path}:{node.lineno}: imports {node.module} {bad}"


# ----------------------------------------------------------------------------------- the checker can fail

def _write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return root / "r1lib"


def test_checker_finds_a_circle_through_a_lazy_import(tmp_path):
    pkg = _write(tmp_path, {
        "r1lib/__init__.py": "",
        "r1lib/grading/__init__.py": "",
        "r1lib/grading/answers.py": "def f():\n    from . import graders\n",
        "r1lib/grading/graders.py": "from .answers import x\n",
    })
    mods = read_modules(pkg)
    cycles = cycle_report(mods, edges(mods, "r1lib"))
    assert len(cycles) == 1 and "answers.py" in cycles[0] and "graders.py" in cycles[0]


def test_checker_finds_an_upward_import(tmp_path):
    pkg = _write(tmp_path, {
        "r1lib/__init__.py": "",
        "r1lib/metrics.py": "def plot():\n    from .figures.style import COLORS\n",
        "r1lib/figures/__init__.py": "",
        "r1lib/figures/style.py": "COLORS = {}\n",
        "r1lib/exercises/__init__.py": "",
        "r1lib/exercises/nb01.py": "from ..figures import style\n",
    })
    problems = layer_violations(read_modules(pkg), "r1lib")
    assert any("metrics.py" in p and "r1lib.figures.style" in p for p in problems), problems
    assert any("nb01.py" in p and "r1lib.figures" in p for p in problems), problems


def test_checker_finds_underscore_names(tmp_path):
    pkg = _write(tmp_path, {
        "r1lib/__init__.py": "",
        "r1lib/_helpers.py": "def f():\n    pass\n",
        "r1lib/a.py": "from ._helpers import f\n",
        "r1lib/b.py": "from .a import _private\n",
        "r1lib/c.py": "from . import a\na._secret()\n",
    })
    problems = underscore_violations(read_modules(pkg), "r1lib")
    assert any("a.py" in p and "_helpers" in p for p in problems), problems
    assert any("b.py" in p and "_private" in p for p in problems), problems
    assert any("c.py" in p and "_secret" in p for p in problems), problems


def test_checker_finds_imports_of_the_face(tmp_path):
    pkg = _write(tmp_path, {
        "r1lib/__init__.py": "from .metrics import m\n",
        "r1lib/metrics.py": "def m():\n    pass\n",
        "r1lib/score.py": "from .metrics import m\n",
        "r1lib/labs/__init__.py": "",
        "r1lib/labs/a.py": "def f():\n    import r1lib\n    return r1lib.m()\n",
        "r1lib/labs/b.py": "from .. import m\n",
        "r1lib/labs/c.py": "from r1lib import score\n",
        "r1lib/labs/ok.py": "from .. import metrics\nimport r1lib.metrics\n",
    })
    problems = face_violations(read_modules(pkg), "r1lib")
    for bad in ("a.py", "b.py", "c.py"):
        assert sum(bad in p for p in problems) == 1, (bad, problems)
    assert not any("ok.py" in p for p in problems), problems


def test_checker_passes_a_clean_package(tmp_path):
    pkg = _write(tmp_path, {
        "r1lib/__init__.py": "from .labs import toy\nfrom .metrics import m\n",
        "r1lib/metrics.py": "def m():\n    pass\n",
        "r1lib/labs/__init__.py": "",
        "r1lib/labs/toy.py": "from ..metrics import m\n",
        "r1lib/figures/__init__.py": "",
        "r1lib/figures/toy.py": "from ..labs import toy\n",
    })
    mods = read_modules(pkg)
    assert not find_cycles(edges(mods, "r1lib"))
    assert not layer_violations(mods, "r1lib")
    assert not underscore_violations(mods, "r1lib")
    assert not face_violations(mods, "r1lib")


@pytest.mark.parametrize("layer,target,ok", [("labs", "grading", True), ("grading", "labs", False),
                                             ("exercises", "figures", False), ("figures", "labs", True)])
def test_the_allowed_table_is_the_documented_order(layer, target, ok):
    assert (target in ALLOWED[layer]) is ok
