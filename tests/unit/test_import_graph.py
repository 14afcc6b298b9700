"""The import graph of src/ddbvault, read with ast (nothing is imported): no import cycles, no AWS
SDK in the pure packages, and imports that point down the layers of LAYERS.

What counts as an import of module A by module B:
- every `import` and `from ... import` statement in B, relative ones resolved against B's package;
  `from P import name` is an import of P.name when that is a module, else of P (its __init__);
- at module level and inside functions alike: an import moved into a function runs later, but
  the two modules still need each other, and a lazy import is how a cycle is usually hidden
  rather than removed;
- under `if TYPE_CHECKING:` too, except for the cycle check: such an import never runs, and a
  type-only back-reference is the accepted way to name a type without a cycle; a type from a
  higher layer (or one from boto3) is still a dependency, so the other two checks count it.
Only ddbvault's own modules and boto3/botocore are tracked.

Parent packages, which Python runs before a submodule, are not imports for the cycle and layer
checks: every chain of parents ends at ddbvault/__init__, the public API, which imports the verbs,
so counting them would put every module in one cycle. The AWS SDK check does follow parents other
than the root (a pure module importing storage.s3_limits would run storage/__init__ too). The
root imports its API lazily, so `import ddbvault.format.codec` loads no boto3 at run time either
(test_importing_a_pure_module_loads_no_aws_sdk checks that in a fresh interpreter).
"""

from __future__ import annotations

import ast
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"
ROOT = "ddbvault"
AWS_SDK = ("boto3", "botocore")
PURE = ("ddbvault.format", "ddbvault.capacity")

# The layers, bottom to top. A module may import its own layer and the ones below it, never one
# above. An entry is a package (with all its modules) or a module; "ddbvault" is the root
# package's __init__ alone. A module's layer is that of the longest entry that covers it, and
# every module must be covered (a new package gets its place here, on purpose).
LAYERS: tuple[tuple[str, ...], ...] = (
    ("ddbvault._version", "ddbvault.exit_codes", "ddbvault.errors", "ddbvault.plural"),
    ("ddbvault.format", "ddbvault.capacity",    # pure: the on-storage contract; rates and plans
     "ddbvault.format.changes",                 # change records and their replay (issues 11, 12)
     "ddbvault.format.change_log"),             # the change log format 1.0: keys, segments (issue 12)
    ("ddbvault.aws",),                          # sessions, roles, retries, the error boundary
    ("ddbvault.storage",),
    ("ddbvault.dynamodb",),
    ("ddbvault.vault",),
    ("ddbvault.runtime",),
    ("ddbvault.backup", "ddbvault.restore", "ddbvault.verify", "ddbvault.follow",
     "ddbvault.backup.via_export", "ddbvault.restore.incremental"),  # the export engine; restore --then
    ("ddbvault",),                              # the public API: re-exports the verbs
    ("ddbvault.doctor", "ddbvault.doctor_continuous",   # doctor --continuous (issue 12)
     "ddbvault.iac", "ddbvault.notify", "ddbvault.service"),
    ("ddbvault.devtools",),                     # not library code; the CLI's `demo` runs it
    ("ddbvault.cli", "ddbvault.cli_roles", "ddbvault.cli_executors", "ddbvault.__main__", "ddbvault.console",
     "ddbvault.logs"),  # the shell (logs: its handlers)
)

# ALLOWANCES TO DELETE: what this test found in the tree when it was written, each to be removed
# by the layout issue (issue 9). An entry that is no longer found fails the test, so the fix
# deletes its entry too.
KNOWN_CYCLES: set[frozenset[str]] = set()  # none: keep it so
KNOWN_UPWARD: set[tuple[str, str]] = set()  # none: keep it so


@dataclass(frozen=True)
class Import:
    importer: str
    imported: str
    line: int
    kind: str  # "module", "function" or "type_checking"

    def __str__(self) -> str:
        where = "" if self.kind == "module" else f" ({self.kind.replace('_', ' ')})"
        return f"{self.importer}:{self.line} -> {self.imported}{where}"


def module_files(src: Path) -> dict[str, Path]:
    """Every module of the ddbvault tree under `src` by dotted name (a package by its own name)."""
    modules = {}
    for path in sorted((src / ROOT).rglob("*.py")):
        parts = path.relative_to(src).with_suffix("").parts
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def read_imports(src: Path) -> tuple[set[str], list[Import]]:
    modules = module_files(src)
    imports = []
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node, kind in _statements(ast.parse(path.read_text(), str(path)), "module"):
            imports += [Import(name, target, node.lineno, kind) for target in _targets(node, package, modules)
                        if target.partition(".")[0] in (ROOT, *AWS_SDK)]
    return set(modules), imports


def _statements(node: ast.AST, kind: str):
    """Each import statement under `node`, with where it runs."""
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        yield node, kind
        return
    if isinstance(node, ast.If) and _is_type_checking(node.test):
        for child in node.body:
            yield from _statements(child, "type_checking")
        for child in node.orelse:
            yield from _statements(child, kind)
        return
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and kind == "module":
        kind = "function"
    for child in ast.iter_child_nodes(node):
        yield from _statements(child, kind)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING"
            or isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _targets(node: ast.Import | ast.ImportFrom, package: str, modules) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = node.module or ""
    if node.level:
        parts = package.split(".")
        base = ".".join(parts[:len(parts) - node.level + 1] + ([node.module] if node.module else []))
    return list(dict.fromkeys(f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                              for alias in node.names))


def _graph(imports) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for imp in imports:
        graph.setdefault(imp.importer, set()).add(imp.imported)
    return graph


def _reach(graph: dict[str, set[str]], start: str) -> dict[str, str]:
    """Every module reachable from `start` (itself only through a cycle), each with the module it
    was reached from, breadth first."""
    came_from: dict[str, str] = {}
    todo = deque([start])
    while todo:
        node = todo.popleft()
        for nxt in sorted(graph.get(node, ())):
            if nxt not in came_from:
                came_from[nxt] = node
                todo.append(nxt)
    return came_from


def find_cycles(imports: list[Import]) -> list[frozenset[str]]:
    """The import cycles: each set of modules that all reach each other through imports that run
    (module and function level), found as strongly connected components."""
    graph = _graph(imp for imp in imports if imp.kind != "type_checking")
    reach = {module: _reach(graph, module) for module in graph}
    return sorted({frozenset(n for n in reach[m] if m in reach.get(n, ())) for m in graph if m in reach[m]},
                  key=sorted)


def find_aws_sdk_in_pure(imports: list[Import]) -> list[str]:
    """Each pure module that reaches boto3 or botocore, with the chain of imports that does."""
    graph = _graph(imports)
    for imp in (imp for imp in imports if imp.imported.partition(".")[0] == ROOT):
        parents = imp.imported.split(".")[1:-1]
        for depth in range(len(parents)):
            parent = ".".join([ROOT, *parents[:depth + 1]])
            if not imp.importer.startswith(parent + "."):
                graph[imp.importer].add(parent)
    found = []
    for module in sorted(graph):
        if _layer_entry(module, PURE):
            came_from = _reach(graph, module)
            for sdk in sorted(n for n in came_from if n.partition(".")[0] in AWS_SDK):
                chain = [sdk]
                while chain[-1] != module:
                    chain.append(came_from[chain[-1]])
                found.append(" -> ".join(reversed(chain)))
    return found


def _layer_entry(module: str, entries) -> str | None:
    matches = [e for e in entries if module == e or e != ROOT and module.startswith(e + ".")]
    return max(matches, key=len) if matches else None


def layer_of(module: str) -> int | None:
    entry = _layer_entry(module, [e for layer in LAYERS for e in layer])
    return next(index for index, layer in enumerate(LAYERS) if entry in layer) if entry else None


def find_upward(imports: list[Import]) -> list[Import]:
    """The imports of a module in a higher layer than the importer's (a module in no layer is
    reported by test_every_module_has_one_layer instead)."""
    layers = [(imp, layer_of(imp.importer), layer_of(imp.imported)) for imp in imports
              if imp.imported.partition(".")[0] == ROOT]
    return [imp for imp, low, high in layers if None not in (low, high) and high > low]


@pytest.fixture(scope="module")
def tree() -> tuple[set[str], list[Import]]:
    return read_imports(SRC)


def _report(title: str, found: list[str]) -> str:
    return title + ":\n  " + "\n  ".join(found)


def test_every_module_has_one_layer(tree):
    modules, _ = tree
    assert len(modules) > 50, "the walk found too few modules: is SRC right?"
    assert [m for m in sorted(modules) if layer_of(m) is None] == []
    entries = [e for layer in LAYERS for e in layer]
    assert len(entries) == len(set(entries)), "an entry is in two layers"


def test_no_import_cycles(tree):
    _, imports = tree
    cycles = find_cycles(imports)
    new = [c for c in cycles if c not in KNOWN_CYCLES]
    assert not new, _report("import cycles (module- and function-level imports)",
                            [str(imp) for c in new for imp in imports
                             if imp.importer in c and imp.imported in c and imp.kind != "type_checking"])
    assert KNOWN_CYCLES <= set(cycles), f"fixed, delete from KNOWN_CYCLES: {KNOWN_CYCLES - set(cycles)}"


def test_pure_packages_reach_no_aws_sdk(tree):
    _, imports = tree
    found = find_aws_sdk_in_pure(imports)
    assert not found, _report(f"{' and '.join(PURE)} must not reach {' or '.join(AWS_SDK)}", found)


def test_imports_point_down(tree):
    _, imports = tree
    upward = find_upward(imports)
    new = [imp for imp in upward if (imp.importer, imp.imported) not in KNOWN_UPWARD]
    assert not new, _report("imports of a higher layer (LAYERS)", [str(imp) for imp in new])
    stale = KNOWN_UPWARD - {(imp.importer, imp.imported) for imp in upward}
    assert not stale, f"fixed, delete from KNOWN_UPWARD: {stale}"


def test_the_walk_resolves_every_kind_of_import(tmp_path):
    """A small tree on disk: relative and absolute imports, function level, TYPE_CHECKING."""
    files = {
        "__init__.py": "from .b import api\n",
        "a/__init__.py": "from . import c\nfrom .c import helper\nfrom .. import api\n",
        "a/c.py": "import os\nfrom ..b import thing\n\ndef later():\n    from ddbvault.a import c\n",
        "b.py": ("from typing import TYPE_CHECKING\nimport boto3.session\nif TYPE_CHECKING:\n"
                 "    from .a.c import helper\nelse:\n    from . import a\n"),
    }
    for name, text in files.items():
        (tmp_path / ROOT / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / ROOT / name).write_text(text)
    modules, imports = read_imports(tmp_path)
    assert modules == {"ddbvault", "ddbvault.a", "ddbvault.a.c", "ddbvault.b"}
    assert sorted(str(imp) for imp in imports) == [
        "ddbvault.a.c:2 -> ddbvault.b",
        "ddbvault.a.c:5 -> ddbvault.a.c (function)",
        "ddbvault.a:1 -> ddbvault.a.c",
        "ddbvault.a:2 -> ddbvault.a.c",
        "ddbvault.a:3 -> ddbvault",
        "ddbvault.b:2 -> boto3.session",
        "ddbvault.b:4 -> ddbvault.a.c (type checking)",
        "ddbvault.b:6 -> ddbvault.a",
        "ddbvault:1 -> ddbvault.b",
    ]


def test_the_checks_find_what_they_look_for():
    """A made-up graph with one of each fault: the checks must report each, and nothing else."""
    imports = [
        # a cycle hidden by a function-level import
        Import("ddbvault.restore", "ddbvault.restore.via_import", 1, "function"),
        Import("ddbvault.restore.via_import", "ddbvault.restore", 2, "module"),
        # a type-only back-reference: no cycle
        Import("ddbvault.storage.s3", "ddbvault.storage.s3_reader", 3, "module"),
        Import("ddbvault.storage.s3_reader", "ddbvault.storage.s3", 4, "type_checking"),
        # up a layer, and up to the root
        Import("ddbvault.runtime.workers", "ddbvault.backup.segments", 5, "module"),
        Import("ddbvault.errors", "ddbvault", 6, "function"),
        # a pure module reaching botocore through another pure module (and up a layer)
        Import("ddbvault.format.codec", "ddbvault.capacity.limiter", 7, "module"),
        Import("ddbvault.capacity.limiter", "ddbvault.aws.retry", 8, "module"),
        Import("ddbvault.aws.retry", "botocore.exceptions", 9, "module"),
        # ... and reaching boto3 through a type-only import, via the package of the submodule
        Import("ddbvault.format.layout", "ddbvault.dynamodb.scan", 10, "type_checking"),
        Import("ddbvault.dynamodb", "boto3", 11, "module"),
        # down: fine
        Import("ddbvault.cli", "ddbvault.verify", 12, "function"),
    ]
    assert find_cycles(imports) == [frozenset({"ddbvault.restore", "ddbvault.restore.via_import"})]
    assert [str(imp) for imp in find_upward(imports)] == [
        "ddbvault.runtime.workers:5 -> ddbvault.backup.segments",
        "ddbvault.errors:6 -> ddbvault (function)",
        "ddbvault.capacity.limiter:8 -> ddbvault.aws.retry",
        "ddbvault.format.layout:10 -> ddbvault.dynamodb.scan (type checking)",
    ]
    assert find_aws_sdk_in_pure(imports) == [
        "ddbvault.capacity.limiter -> ddbvault.aws.retry -> botocore.exceptions",
        "ddbvault.format.codec -> ddbvault.capacity.limiter -> ddbvault.aws.retry -> botocore.exceptions",
        "ddbvault.format.layout -> ddbvault.dynamodb -> boto3",
    ]


@pytest.mark.parametrize("module", ["ddbvault.format.codec", "ddbvault.format.manifest", "ddbvault.format.dataline",
                                    "ddbvault.capacity.limiter", "ddbvault.capacity.read_plan",
                                    "ddbvault.capacity.write_plan"])
def test_importing_a_pure_module_loads_no_aws_sdk(module):
    """At run time too: the package root imports its API lazily, so nothing drags boto3 in."""
    import subprocess
    import sys

    code = (f"import sys, {module}; loaded = sorted(m for m in sys.modules if m.split('.')[0] in "
            "('boto3', 'botocore')); print(loaded); raise SystemExit(1 if loaded else 0)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, f"{module} loads {done.stdout.strip()} {done.stderr[-300:]}"


def test_the_public_api_is_every_name_in_all():
    import ddbvault

    for name in ddbvault.__all__:
        assert getattr(ddbvault, name) is not None, name
    with pytest.raises(AttributeError):
        ddbvault.no_such_name  # noqa: B018
