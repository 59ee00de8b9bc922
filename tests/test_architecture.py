"""Imports point one way: grpc layer -> core -> plugin API. Checked on the source, not by eye."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SERVER = Path(__file__).parents[1] / "server" / "kiln" / "server"


def imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def modules_under(*parts: str) -> list[Path]:
    return sorted((SERVER.joinpath(*parts)).glob("*.py"))


# cli.py is the top of the stack; jax_runtime.py is the one sanctioned JAX helper.
CORE = [p for p in modules_under() if p.name not in {"cli.py", "jax_runtime.py"}]
PLUGIN_API = modules_under("plugin")


@pytest.mark.parametrize("path", CORE + PLUGIN_API, ids=lambda p: p.name)
def test_core_and_plugin_api_never_import_grpc_or_jax(path):
    bad = {
        m
        for m in imported_modules(path)
        if m.split(".")[0]
        in {"grpc", "grpc_status", "grpc_health", "grpc_reflection", "jax", "flax"}
        or m.startswith("kiln.server.grpc")
        or m.endswith("_pb2_grpc")
    }
    assert not bad, f"{path.name} imports {sorted(bad)}"


@pytest.mark.parametrize("path", PLUGIN_API, ids=lambda p: p.name)
def test_plugin_api_depends_on_nothing_else_of_kiln(path):
    kiln = {m for m in imported_modules(path) if m.startswith("kiln")}
    assert all(m.startswith("kiln.server.plugin") for m in kiln), sorted(kiln)


def test_every_hook_is_documented():
    from kiln.server.plugin import hookspecs

    hooks = [n for n in dir(hookspecs) if n.startswith("kiln_")]
    assert hooks == ["kiln_model_specs"]
    for name in hooks:
        doc = getattr(hookspecs, name).__doc__ or ""
        assert "When:" in doc and "Must not:" in doc, name
