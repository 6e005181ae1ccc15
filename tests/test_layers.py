"""Imports go one way, downward (ARCHITECTURE.md, 'Layers and rooms'):

    training                      sessions: composes the apps below
    consensus                     the ledger
    nodes | models_store          the registry | checkpoints (siblings: neither imports the other)
    ncrsh_site | engine           the glue | pure PyTorch, no Django

and ``ncrsh_swarm`` (the client) is a leaf that imports neither Django, torch nor any of them.
Every import of every module counts, those inside functions too.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LAYER = {"ncrsh_site": 0, "engine": 0, "nodes": 1, "models_store": 1, "consensus": 2, "training": 3}
PACKAGES = (*LAYER, "ncrsh_swarm")


def imports(source: str, package: str) -> list[tuple[int, str]]:
    """(line, module) of every import in a module of ``package``, relative ones resolved."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                found.append((node.lineno, ".".join([*base, *([node.module] if node.module else [])])))
            else:
                found.append((node.lineno, node.module or ""))
    return found


def violations(path: Path, source: str | None = None) -> list[str]:
    """The upward imports of the module at ``path`` (its text: ``source``, else the file's)."""
    relative = path.relative_to(ROOT)
    package = relative.parts[0]
    out = []
    for line, module in imports(path.read_text() if source is None else source, ".".join(relative.parent.parts)):
        top = module.split(".")[0]
        where = f"{relative}:{line} imports {module}"
        if package == "ncrsh_swarm":
            if top in LAYER or top in ("django", "rest_framework", "channels", "celery", "torch"):
                out.append(f"{where}: the client imports no server code, Django or torch")
        elif package == "engine":
            if (top in PACKAGES and top != "engine") or top in ("django", "rest_framework", "channels", "celery"):
                out.append(f"{where}: the engine is pure PyTorch")
        elif top in PACKAGES and top != package and (top == "ncrsh_swarm" or LAYER[top] >= LAYER[package]):
            out.append(f"{where}: {package} (layer {LAYER[package]}) may import only layers below it")
    return out


def modules(package: str) -> list[Path]:
    return sorted(p for p in (ROOT / package).rglob("*.py") if "migrations" not in p.parts)


@pytest.mark.parametrize("package", PACKAGES)
def test_imports_go_only_downward(package: str) -> None:
    found = [v for path in modules(package) for v in violations(path)]
    assert not found, "\n".join(found)


@pytest.mark.parametrize(
    ("package", "source", "allowed"),
    [
        ("nodes", "from training.selectors import session_get", False),
        ("nodes", "from models_store.models import Checkpoint", False),
        ("consensus", "from nodes.models import Node", True),
        ("consensus", "from training import services", False),
        ("engine", "import django.db", False),
        ("engine", "from ncrsh_site.events import publish", False),
        ("engine", "import torch", True),
        ("ncrsh_swarm", "import torch", False),
        ("ncrsh_swarm", "from django.conf import settings", False),
        ("ncrsh_swarm", "import httpx", True),
        ("training", "from consensus import services", True),
        ("training", "from models_store.dataset_services import dataset_local", True),
        ("models_store", "from nodes.models import Node", False),
        ("ncrsh_site", "from nodes.models import Node", False),
    ],
)
def test_the_rule_catches_an_upward_import(package: str, source: str, allowed: bool) -> None:
    assert (violations(ROOT / package / "probe.py", source) == []) is allowed


def test_the_web_process_does_not_import_torch() -> None:
    # Torch is the training processes' (and the sample endpoint's, on use): the web process sizes
    # and validates sessions with torch-free engine modules. engine.memory once pulled it in
    # through engine.wire.
    probe = "import sys, django; django.setup(); import ncrsh_site.urls, ncrsh_site.asgi; print('torch' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "ncrsh_site.settings"},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert result.stdout.strip() == "False"
