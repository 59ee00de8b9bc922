"""Finds plugins through the ``kiln`` entry-point group and collects their models.

A plugin that fails to import, or whose hook raises or returns something other than
`ModelSpec` records, is reported and skipped: the server serves the rest. Two plugins
offering the same model name stop the process, naming both.
"""

from __future__ import annotations

import importlib.metadata
import logging
import traceback
from collections.abc import Iterable
from dataclasses import dataclass, field

import pluggy

from kiln.server.errors import PluginError
from kiln.server.plugin import PROJECT_NAME, ModelSpec, hookspecs

log = logging.getLogger(__name__)


@dataclass
class PluginRecord:
    """What discovery learnt about one plugin.

    Attributes:
        name: Entry-point name (or the name a test registered it under).
        distribution: The pip distribution that ships it, e.g. ``kiln-classifier``.
        version: That distribution's version.
        target: The ``module`` the entry point points at.
        models: Names of the models it provides.
        error: Why it was skipped, or None.
        blocked: True when the block list disabled it.
    """

    name: str
    distribution: str
    version: str
    target: str
    models: list[str] = field(default_factory=list)
    error: str | None = None
    blocked: bool = False


@dataclass(frozen=True)
class DiscoveredModel:
    """A model spec together with the plugin that provides it."""

    spec: ModelSpec
    plugin: PluginRecord


@dataclass
class Catalog:
    """Everything discovery found: plugins (loaded, failed or blocked) and models by name."""

    plugins: list[PluginRecord]
    models: dict[str, DiscoveredModel]


def create_plugin_manager() -> pluggy.PluginManager:
    """Return a plugin manager that knows Kiln's hook specs (and no plugins yet)."""
    pm = pluggy.PluginManager(PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    return pm


def discover(
    block: Iterable[str] = (), extra_plugins: Iterable[tuple[str, object]] = ()
) -> Catalog:
    """Load every plugin of the ``kiln`` entry-point group and collect its models.

    Args:
        block: Plugin (entry-point) or distribution names to skip.
        extra_plugins: ``(name, plugin object)`` pairs registered besides the entry points,
            e.g. a test's in-file plugin.
    """
    blocked = set(block)
    pm = create_plugin_manager()
    records: dict[str, PluginRecord] = {}
    for ep in sorted(importlib.metadata.entry_points(group=PROJECT_NAME), key=lambda e: e.name):
        dist = ep.dist
        record = PluginRecord(
            name=ep.name,
            distribution=dist.name if dist else "",
            version=dist.version if dist else "",
            target=ep.value,
        )
        records[ep.name] = record
        if ep.name in blocked or record.distribution in blocked:
            record.blocked = True
            log.info("plugin %s (%s) is blocked", ep.name, record.distribution)
            continue
        try:
            _register(pm, ep.load(), ep.name)
        except Exception as err:  # a broken plugin must not take the server down
            _fail(record, err, "failed to load")
    for name, plugin in extra_plugins:
        records[name] = PluginRecord(name=name, distribution="", version="", target=repr(plugin))
        _register(pm, plugin, name)
    return Catalog(plugins=list(records.values()), models=_collect_models(pm, records))


def _register(pm: pluggy.PluginManager, plugin: object, name: str) -> None:
    pm.register(plugin, name=name)
    try:
        pm.check_pending()  # a misspelt kiln_* hook is an error, not a silent no-op
    except Exception:
        pm.unregister(name=name)
        raise


def _collect_models(pm: pluggy.PluginManager, records: dict[str, PluginRecord]) -> dict:
    models: dict[str, DiscoveredModel] = {}
    for impl in reversed(pm.hook.kiln_model_specs.get_hookimpls()):
        record = records[impl.plugin_name]
        try:
            specs = list(impl.function() or ())
            bad = [s for s in specs if not isinstance(s, ModelSpec)]
            if bad:
                raise TypeError(f"kiln_model_specs returned non-ModelSpec values: {bad!r}")
        except Exception as err:
            _fail(record, err, "kiln_model_specs failed")
            continue
        for spec in specs:
            if spec.name in models:
                other = models[spec.name].plugin
                raise PluginError(
                    f"model name {spec.name!r} is provided by both plugin {other.name!r} "
                    f"({other.distribution or 'unknown distribution'}) and plugin "
                    f"{record.name!r} ({record.distribution or 'unknown distribution'}); "
                    "block one of them"
                )
            models[spec.name] = DiscoveredModel(spec=spec, plugin=record)
            record.models.append(spec.name)
    return dict(sorted(models.items()))


def _fail(record: PluginRecord, err: Exception, what: str) -> None:
    record.error = f"{what}: {type(err).__name__}: {err}"
    log.error(
        "plugin %s (%s) %s and is skipped\n%s",
        record.name,
        record.distribution,
        what,
        "".join(traceback.format_exception(err)),
    )
