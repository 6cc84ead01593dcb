"""Every dlpipe module a DVC stage's command runs is one of that stage's deps.

For each stage whose cmd is ``python -m dlpipe <stage> ...`` (``foreach`` stages
through their ``do:`` template), the modules ``dlpipe.stages.<stage>`` imports are
followed by AST, transitively: module- and function-level ``import`` and ``from
... import`` (absolute or relative), ``importlib.import_module`` of a literal, the
lazy registry's ``"dlpipe.module:function"`` strings and a task family's
``.part("evaluate")`` (``dlpipe.tasks.<family>.evaluate`` of the stage's family:
the key of split@FAMILY and augment@FAMILY, the suffix of train_FAMILY, else
classification); imports under
``if TYPE_CHECKING:`` never run and are skipped. Each module's file must lie under
a file or folder dep of the stage, or DVC would keep a stale output after an edit
of that file. Other computed imports are not seen.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from conftest import REPO

SRC = REPO / "src"
PACKAGE = SRC / "dlpipe"
LAZY_BUILDER = re.compile(r"^(dlpipe(?:\.\w+)+):\w+$")  # models/registry.py's "module:function"

# Modules a stage may run without depending on them: plumbing that does not shape what the
# stage writes. Their own imports are not followed. Paths relative to src/dlpipe.
EXEMPT = {
    # Exception classes only: a stage that raises one writes nothing.
    "errors.py",
    # File names; dvc.yaml spells the same paths in outs, so moving one is a dvc.yaml edit too.
    "paths.py",
    # The MLflow side: run ids, params, artifacts. It writes nothing DVC tracks (run.json
    # holds a fresh run id on every run anyway).
    "tracking.py",
    # Atomic writes and the array/JSON round trip every stage shares: the stages trust it, as
    # they trust numpy, to hand values through unchanged; as a dep it would rerun everything.
    "disk.py",
    # Types and validates params.yaml; the values a stage reads are tracked by its `params:`.
    "config.py",
}


def _text(node: ast.AST) -> str | None:
    """The value of a string literal, else None."""
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _is_marker(path: Path) -> bool:
    """A package ``__init__.py`` holding nothing but a docstring: importing it runs no code."""
    body = ast.parse(path.read_text()).body
    return all(isinstance(node, ast.Expr) and _text(node.value) is not None for node in body)


def all_modules() -> list[str]:
    """Every dlpipe module, by dotted name."""
    names = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(SRC).with_suffix("").parts
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def family_parts(part: str, family: str | None) -> list[str]:
    """``Family.part(part)`` imports dlpipe.tasks.<family>.<part>: that module of the stage's
    family, or of every family for a stage that has none."""
    which = re.escape(family) if family else r"\w+"
    pattern = re.compile(rf"dlpipe\.tasks\.{which}\.{re.escape(part)}")
    return [name for name in all_modules() if pattern.fullmatch(name)]


def module_file(module: str) -> Path | None:
    """The source file of a dlpipe module, or None if there is none (a name inside a module)."""
    base = SRC.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _type_checking_only(tree: ast.AST) -> set[int]:
    """ids of the nodes under ``if TYPE_CHECKING:`` (or ``typing.TYPE_CHECKING``)."""
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If):
            test = node.test
            name = test.id if isinstance(test, ast.Name) else getattr(test, "attr", None)
            if name == "TYPE_CHECKING":
                skipped.update(id(inner) for stmt in node.body for inner in ast.walk(stmt))
    return skipped


def _names(node: ast.AST, package: str, family: str | None = None) -> list[str]:
    """The module names one AST node imports (some may be names inside a module)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom):
        if node.level:
            anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
            base = ".".join([*anchor, node.module] if node.module else anchor)
        else:
            base = node.module or ""
        # `from dlpipe import disk` imports the module dlpipe.disk; `from dlpipe.disk import x`, dlpipe.disk.
        return [base, *(f"{base}.{alias.name}" for alias in node.names if alias.name != "*")]
    if isinstance(node, ast.Call) and node.args and _text(node.args[0]) is not None:
        called = getattr(node.func, "attr", getattr(node.func, "id", None))
        if called == "import_module":
            return [_text(node.args[0])]
        if called == "part" and isinstance(node.func, ast.Attribute):
            return family_parts(_text(node.args[0]), family)
    lazy = LAZY_BUILDER.match(_text(node) or "")
    return [lazy.group(1)] if lazy else []


def imported_modules(module: str, family: str | None = None) -> Iterator[str]:
    """The dlpipe modules ``module`` imports anywhere in its file (not transitively)."""
    path = module_file(module)
    assert path is not None, module
    tree = ast.parse(path.read_text(), filename=str(path))
    skipped = _type_checking_only(tree)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        for name in _names(node, package, family):
            if name == "dlpipe" or name.startswith("dlpipe."):
                # Importing a.b.c runs a/__init__.py and a/b/__init__.py too.
                parts = name.split(".")
                for end in range(1, len(parts) + 1):
                    if module_file(".".join(parts[:end])) is not None:
                        yield ".".join(parts[:end])


def closure(module: str, family: str | None = None) -> set[Path]:
    """The files of every dlpipe module ``module`` runs, itself included, exemptions left out."""
    seen: set[str] = set()
    files: set[Path] = set()
    pending = [module]
    while pending:
        current = pending.pop()
        if current in seen:
            continue
        seen.add(current)
        path = module_file(current)
        if path.relative_to(PACKAGE).as_posix() in EXEMPT:
            continue
        if not (path.name == "__init__.py" and _is_marker(path)):
            files.add(path)
        pending.extend(imported_modules(current, family))
    return files


FAMILIES = ("classify", "localize", "landmarks", "detect", "verify", "clips")


def dlpipe_stages() -> list[tuple[str, str, list[str], str | None]]:
    """(stage label, dlpipe command, deps, family) of every stage of dvc.yaml (and of the claims'
    own claims/dvc.yaml) that runs ``python -m dlpipe``; a foreach over a literal mapping once
    per key, ${key} filled in."""
    stages = {}
    for pipeline in ("dvc.yaml", "claims/dvc.yaml"):
        stages |= yaml.safe_load((REPO / pipeline).read_text())["stages"]
    found = []
    for name, stage in stages.items():
        body = stage.get("do", stage)  # a foreach stage: its template
        words = body["cmd"].split()
        if words[:3] != ["python", "-m", "dlpipe"]:
            continue
        deps = [next(iter(dep)) if isinstance(dep, dict) else dep for dep in body.get("deps", [])]
        items = stage.get("foreach")
        if isinstance(items, dict):
            for key in items:
                filled = [dep.replace("${key}", key) for dep in deps]
                found.append((f"{name}@{key}", words[3], filled, key))
        elif items is not None:
            suffix = name.rpartition("_")[2]
            found.append(
                (f"{name} (foreach {items})", words[3], deps, suffix if suffix in FAMILIES else "classify")
            )
        else:
            found.append((name, words[3], deps, "classify"))  # transfer, tune, leaderboard
    return found


def covered(path: Path, deps: list[str]) -> bool:
    """``path`` is a file dep, or lies in a folder dep."""
    relative = path.relative_to(REPO).parts
    return any(relative[: len(Path(dep).parts)] == Path(dep).parts for dep in deps)


STAGES = dlpipe_stages()


def test_dvc_yaml_has_dlpipe_stages_to_check():
    commands = {command for _, command, _, _ in STAGES}
    assert {"split", "augment", "train", "evaluate", "export", "leaderboard"} <= commands


def test_the_import_walk_sees_function_level_package_and_lazy_imports():
    # `from dlpipe import disk, paths, tracking` names modules, not names inside dlpipe/__init__.
    assert "dlpipe.disk" in set(imported_modules("dlpipe.stages.split"))
    # stages/train.py: `from dlpipe.training import weights`.
    assert module_file("dlpipe.training.weights") in closure("dlpipe.stages.train")
    # models/registry.py imports its builders lazily, by "module:function" name.
    assert module_file("dlpipe.models.lenet") in closure("dlpipe.stages.export")
    # FAMILIES[name].part("evaluate") stands for the stage family's evaluate module, or every one
    call = ast.parse('FAMILIES[family].part("evaluate")', mode="eval").body
    assert _names(call, "dlpipe.stages", "localize") == ["dlpipe.tasks.localize.evaluate"]
    assert set(_names(call, "dlpipe.stages")) == {
        name for name in all_modules() if name.startswith("dlpipe.tasks.") and name.endswith(".evaluate")
    }


@pytest.mark.parametrize(("stage", "command", "deps", "family"), STAGES, ids=[label for label, *_ in STAGES])
def test_every_dlpipe_module_a_stage_runs_is_one_of_its_deps(stage, command, deps, family):
    assert module_file(f"dlpipe.stages.{command}") is not None, f"{stage}: no module dlpipe.stages.{command}"
    runs = closure(f"dlpipe.stages.{command}", family)
    missing = sorted(path.relative_to(REPO).as_posix() for path in runs if not covered(path, deps))
    assert not missing, f"dvc.yaml stage {stage} runs code it does not depend on: {', '.join(missing)}"
