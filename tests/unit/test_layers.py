"""Imports in runbooks/ flow one way: down the layers below, never up.

Every import counts: module-level, inside functions and under `if TYPE_CHECKING:`. A failure names
`file:line` of each import that goes the wrong way; fix it by moving the function or constant to the
layer where both sides may use it, not by adding to ALLOWED_SAME_LAYER.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "runbooks"

# Bottom to top. A unit is a module or package under runbooks/ (dotted, without the `runbooks.` prefix);
# a module belongs to the longest unit its name starts with.
LAYERS: list[list[str]] = [
    ["errors", "versions", "apitypes", "waiting", "plan"],
    ["toolchain"],
    ["kube"],
    ["kindenv"],
    ["cluster"],
    ["policy"],
    ["measure", "drills"],
    ["drain", "etcd", "backup", "strategies"],
    ["upgrade", "maintenance"],
    ["evidence"],
    ["plugin"],
    ["steps", "features", "", "__main__"],  # "": runbooks/__init__.py
]

# Units of one layer import each other only here; "*" stands for every unit of that layer.
ALLOWED_SAME_LAYER: dict[tuple[str, str], str] = {
    ("*", "errors"): "the one exception hierarchy every module raises from",
    ("measure", "drills"): "measurements run their probe pods from the drill container and wait for them like drill workloads",
}

# Pure decisions: policy reads nothing from a cluster, so it imports only these (and itself).
POLICY_MAY_IMPORT = {"errors", "versions", "apitypes", "policy"}

UNITS = {unit: index for index, layer in enumerate(LAYERS) for unit in layer}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def unit_of(module: str) -> str | None:
    """The layer unit of `runbooks.x.y`: the longest unit `x.y` starts with; None outside runbooks."""
    if module != "runbooks" and not module.startswith("runbooks."):
        return None
    rest = module.removeprefix("runbooks").removeprefix(".")
    matches = [u for u in UNITS if u == "" and rest == "" or u and (rest == u or rest.startswith(u + "."))]
    return max(matches, key=len) if matches else "?" + rest


def _is_module(dotted: str) -> bool:
    base = ROOT.joinpath(*dotted.split("."))
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def imported_modules(module: str, is_package: bool, source: str) -> list[tuple[int, str]]:
    """(line, module) for every import in `source`, wherever it stands; `from a import b` names a.b when
    b is a module."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = module.split(".") if is_package else module.split(".")[:-1]
                anchor = package[: len(package) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                found.append((node.lineno, candidate if _is_module(candidate) else base))
    return list(dict.fromkeys(found))


def allowed(importer: str, target: str) -> bool:
    return ("*", target) in ALLOWED_SAME_LAYER or (importer, target) in ALLOWED_SAME_LAYER


def violations_in(module: str, source: str, location: str, is_package: bool = False) -> list[str]:
    importer = unit_of(module)
    assert importer is not None and importer in UNITS, f"{location}: {module} is in no layer; add it to LAYERS"
    problems = []
    for line, name in imported_modules(module, is_package, source):
        target = unit_of(name)
        if target is None or target == importer:
            continue
        where = f"{location}:{line}: {module} imports {name}"
        if target not in UNITS:
            problems.append(f"{where}, which is in no layer")
        elif importer == "policy" and target not in POLICY_MAY_IMPORT:
            problems.append(f"{where}: policy is pure and imports only {sorted(POLICY_MAY_IMPORT - {'policy'})}")
        elif UNITS[target] > UNITS[importer]:
            problems.append(f"{where}: {target!r} is above {importer!r}")
        elif UNITS[target] == UNITS[importer] and not allowed(importer, target):
            problems.append(f"{where}: {target!r} and {importer!r} share a layer and ALLOWED_SAME_LAYER does not list them")
    return problems


def library_modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def test_imports_in_runbooks_flow_down_the_layers() -> None:
    problems = [
        problem
        for path in library_modules()
        for problem in violations_in(module_name(path), path.read_text(), str(path.relative_to(ROOT)), path.name == "__init__.py")
    ]
    assert not problems, "imports that go up a layer:\n" + "\n".join(problems)


def test_every_library_module_is_in_a_layer() -> None:
    unplaced = [str(p.relative_to(ROOT)) for p in library_modules() if unit_of(module_name(p)) not in UNITS]
    assert not unplaced, f"add these to LAYERS in tests/unit/test_layers.py: {unplaced}"


def test_the_same_layer_table_names_only_real_units_of_one_layer() -> None:
    for importer, target in ALLOWED_SAME_LAYER:
        assert target in UNITS and (importer == "*" or UNITS[importer] == UNITS[target]), (importer, target)


@pytest.mark.parametrize(
    ("module", "source", "complaint"),
    [
        ("runbooks.policy.skew", "from runbooks.drain import engine\n", "policy is pure"),
        ("runbooks.policy.skew", "def f():\n    from runbooks.cluster.base import Cluster\n", "policy is pure"),
        ("runbooks.kube.exec", "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from runbooks.cluster import Cluster\n", "above 'kube'"),
        ("runbooks.evidence.render", "from runbooks.plugin.gate import x\n", "above 'evidence'"),
        ("runbooks.drills.workloads", "from runbooks.measure import node_state\n", "share a layer"),
        ("runbooks.drain.engine", "from .. import upgrade\n", "above 'drain'"),
    ],
)
def test_an_upward_import_is_named_with_its_file_and_line(module: str, source: str, complaint: str) -> None:
    problems = violations_in(module, source, "x.py")
    assert len(problems) == 1 and complaint in problems[0] and problems[0].startswith("x.py:"), problems


def test_downward_and_outside_imports_pass() -> None:
    source = "import json\nfrom kubernetes import client\nfrom runbooks.cluster.base import Cluster\nfrom runbooks import errors\n"
    assert violations_in("runbooks.drain.engine", source, "x.py") == []
