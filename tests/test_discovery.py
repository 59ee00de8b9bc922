"""Plugin discovery through real entry points, including broken and clashing plugins."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from kiln.server.discovery import discover
from kiln.server.errors import PluginError
from kiln.server.plugin import ModelSpec, TensorSpec, hookimpl

GOOD_PLUGIN = """
from kiln.server.plugin import ModelSpec, TensorSpec, hookimpl

@hookimpl
def kiln_model_specs():
    yield ModelSpec(
        name="{model}",
        description="from a temporary distribution",
        inputs=(TensorSpec("x", "float32", (-1, 2)),),
        outputs=(TensorSpec("y", "float32", (-1, 2)),),
        factory=lambda ctx: None,
    )
"""

HOOK = "from kiln.server.plugin import hookimpl\n@hookimpl\ndef {name}():\n    return {value}\n"


def make_distribution(root: Path, dist: str, entry: str, module: str, source: str) -> None:
    """Write an installed distribution (dist-info + module) that importlib.metadata finds."""
    info = root / f"{dist.replace('-', '_')}-1.2.3.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.2.3\n")
    (info / "entry_points.txt").write_text(f"[kiln]\n{entry} = {module}\n")
    (root / f"{module}.py").write_text(textwrap.dedent(source))


@pytest.fixture
def site(tmp_path, monkeypatch):
    """A temporary site directory on sys.path, holding fake installed distributions."""
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for name in [m for m in sys.modules if m.startswith("tmp_kiln_")]:
        del sys.modules[name]


def builtin_names() -> list[str]:
    """Entry-point names of the built-in plugins, blocked so only the test's plugins count."""
    return ["classifier", "gan"]


def test_a_plugin_that_fails_to_import_is_reported_and_skipped(site):
    make_distribution(
        site, "kiln-good", "good", "tmp_kiln_good", GOOD_PLUGIN.format(model="good-model")
    )
    make_distribution(
        site, "kiln-broken", "broken", "tmp_kiln_broken", "raise ImportError('no numpy 3')"
    )
    catalog = discover(block=builtin_names())
    by_name = {p.name: p for p in catalog.plugins}
    assert by_name["broken"].error == "failed to load: ImportError: no numpy 3"
    assert by_name["broken"].distribution == "kiln-broken"
    assert by_name["good"].error is None and by_name["good"].version == "1.2.3"
    assert list(catalog.models) == ["good-model"]
    assert catalog.models["good-model"].plugin.distribution == "kiln-good"


def test_a_misspelt_hook_fails_that_plugin_loudly(site):
    make_distribution(
        site,
        "kiln-typo",
        "typo",
        "tmp_kiln_typo",
        HOOK.format(name="kiln_model_spec", value="[]"),
    )
    record = {p.name: p for p in discover(block=builtin_names()).plugins}["typo"]
    assert "kiln_model_spec" in record.error


def test_a_hook_that_raises_or_returns_junk_is_skipped(site):
    make_distribution(
        site,
        "kiln-junk",
        "junk",
        "tmp_kiln_junk",
        HOOK.format(name="kiln_model_specs", value="[42]"),
    )
    catalog = discover(block=builtin_names())
    assert "non-ModelSpec" in {p.name: p for p in catalog.plugins}["junk"].error
    assert catalog.models == {}


def test_model_name_clash_fails_naming_both_plugins(site):
    make_distribution(site, "kiln-one", "one", "tmp_kiln_one", GOOD_PLUGIN.format(model="same"))
    make_distribution(site, "kiln-two", "two", "tmp_kiln_two", GOOD_PLUGIN.format(model="same"))
    with pytest.raises(PluginError, match=r"'same'.*'one'.*'two'|'same'.*'two'.*'one'"):
        discover(block=builtin_names())


def test_block_list_disables_by_entry_point_or_distribution_name(site):
    make_distribution(site, "kiln-one", "one", "tmp_kiln_one", GOOD_PLUGIN.format(model="m1"))
    make_distribution(site, "kiln-two", "two", "tmp_kiln_two", GOOD_PLUGIN.format(model="m2"))
    catalog = discover(block=[*builtin_names(), "one", "kiln-two"])
    assert catalog.models == {}
    assert all(p.blocked for p in catalog.plugins if p.name in {"one", "two"})


def test_plugins_can_be_registered_for_one_test_without_an_entry_point():
    class Plugin:
        @hookimpl
        def kiln_model_specs(self):
            yield ModelSpec(
                name="inline",
                description="",
                inputs=(TensorSpec("x", "int8", (-1,)),),
                outputs=(TensorSpec("y", "int8", (-1,)),),
                factory=lambda ctx: None,
            )

    catalog = discover(block=builtin_names(), extra_plugins=[("inline-plugin", Plugin())])
    assert catalog.models["inline"].plugin.name == "inline-plugin"


def test_kiln_plugins_command_lists_distributions_and_errors(site):
    make_distribution(
        site, "kiln-broken", "broken", "tmp_kiln_broken", "raise RuntimeError('boom')"
    )
    env = {**os.environ, "PYTHONPATH": f"{site}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    result = subprocess.run(
        [sys.executable, "-m", "kiln.server.cli", "plugins"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 1  # a broken plugin is worth a non-zero exit
    assert "kiln-broken" in result.stdout and "RuntimeError: boom" in result.stdout
    assert "kiln-classifier" in result.stdout and "digits" in result.stdout
