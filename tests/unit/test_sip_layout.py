"""The layout of ``telephony.sip`` stays clean (fast; no Asterisk, no pjsip thread).

* the modules' import graph is acyclic (every import counts, ``TYPE_CHECKING`` and
  function-level ones included);
* the pjsip-thread side (``pj_*``) imports nothing of the asyncio side;
* no module reaches into another's private members (``x._name``, ``import _name``);
* no module is over 500 lines;
* each module imports on its own, without the package ``__init__`` importing the rest.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "telephony.sip"
SIP_DIR = ROOT / "telephony" / "sip"
MODULES = sorted(p.stem for p in SIP_DIR.glob("*.py"))
MAX_LINES = 500
ASYNCIO_SIDE = {"__init__", "stack", "phone", "call", "_aio", "worker"}


def _source(module: str) -> str:
    return (SIP_DIR / f"{module}.py").read_text(encoding="utf-8")


def _tree(module: str) -> ast.Module:
    return ast.parse(_source(module), filename=f"{module}.py")


def _sip_imports(module: str) -> dict[str, set[str]]:
    """Modules of the package that ``module`` imports, each with the names it takes."""
    found: dict[str, set[str]] = {}
    for node in ast.walk(_tree(module)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == PACKAGE:
                    found.setdefault("__init__", set())
                elif alias.name.startswith(PACKAGE + "."):
                    found.setdefault(alias.name.split(".")[2], set())
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = (node.module or "").split(".")[0] if node.level == 1 else None
                target = f"{PACKAGE}.{base}" if base else PACKAGE
            else:
                target = node.module or ""
            names = {alias.name for alias in node.names}
            if target == PACKAGE:
                for name in names:  # ``from telephony.sip import phone`` or a re-export
                    key = name if name in MODULES else "__init__"
                    found.setdefault(key, set()).add(name)
            elif target.startswith(PACKAGE + "."):
                found.setdefault(target.split(".")[2], set()).update(names)
    found.pop(module, None)
    return found


def _graph() -> dict[str, set[str]]:
    return {m: set(_sip_imports(m)) for m in MODULES}


def test_module_graph_is_acyclic() -> None:
    graph = _graph()
    state: dict[str, str] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = "open"
        stack.append(node)
        for dep in sorted(graph.get(node, ())):
            if state.get(dep) == "open":
                cycle = [*stack[stack.index(dep) :], dep]
                raise AssertionError(f"import cycle in {PACKAGE}: {' -> '.join(cycle)}")
            if dep not in state:
                visit(dep)
        stack.pop()
        state[node] = "done"

    for module in MODULES:
        if module not in state:
            visit(module)


def test_pjsip_side_does_not_import_the_asyncio_side() -> None:
    graph = _graph()
    for module in MODULES:
        if module.startswith("pj_") or module == "ports":
            wrong = graph[module] & ASYNCIO_SIDE
            assert not wrong, f"{module} imports asyncio-side module(s) {sorted(wrong)}"


def _external_aliases(tree: ast.Module) -> set[str]:
    """Names bound by imports from outside the package (``pj._pjsua2`` is their business)."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if not alias.name.startswith(PACKAGE):
                    names.add(alias.asname or alias.name.split(".")[0])
        elif isinstance(node, ast.ImportFrom) and not node.level:
            if not (node.module or "").startswith(PACKAGE):
                names.update(alias.asname or alias.name for alias in node.names)
    return names


def _is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def test_no_module_reaches_into_private_members() -> None:
    problems: list[str] = []
    for module in MODULES:
        tree = _tree(module)
        external = _external_aliases(tree)
        for dep, names in _sip_imports(module).items():
            problems += [f"{module}: imports {dep}.{n}" for n in sorted(names) if _is_private(n)]
        for node in ast.walk(tree):
            if not isinstance(node, ast.Attribute) or not _is_private(node.attr):
                continue
            owner = node.value
            if isinstance(owner, ast.Name) and owner.id in {"self", "cls", *external}:
                continue
            if isinstance(owner, ast.Call) and ast.unparse(owner.func) == "super":
                continue
            problems.append(f"{module}:{node.lineno}: {ast.unparse(node)}")
    assert not problems, "private members used across objects:\n" + "\n".join(problems)


def test_nothing_imports_private_names_of_the_package() -> None:
    problems: list[str] = []
    for top in ("hotline", "bench", "tests", "telephony", "ivr", "asr"):
        for path in sorted((ROOT / top).rglob("*.py")):
            if SIP_DIR in path.parents:
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(PACKAGE):
                    problems += [
                        f"{path.relative_to(ROOT)}: {node.module}.{alias.name}"
                        for alias in node.names
                        if _is_private(alias.name)
                    ]
    assert not problems, "\n".join(problems)


def test_modules_are_small() -> None:
    sizes = {m: len(_source(m).splitlines()) for m in MODULES}
    big = {m: n for m, n in sizes.items() if n > MAX_LINES}
    assert not big, f"modules over {MAX_LINES} lines: {big}"


def test_each_module_imports_on_its_own() -> None:
    """In a fresh interpreter, with the package ``__init__`` left out, each module imports."""
    script = textwrap.dedent(
        f"""
        import importlib, sys, types
        failed = []
        for name in {[m for m in MODULES if m != "__init__"]!r}:
            for loaded in [k for k in sys.modules if k.startswith("{PACKAGE}")]:
                del sys.modules[loaded]
            stub = types.ModuleType("{PACKAGE}")
            stub.__path__ = [{str(SIP_DIR)!r}]
            sys.modules["{PACKAGE}"] = stub
            try:
                importlib.import_module("{PACKAGE}." + name)
            except Exception as exc:
                failed.append(f"{{name}}: {{type(exc).__name__}}: {{exc}}")
        print("\\n".join(failed))
        sys.exit(1 if failed else 0)
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
