"""The model registry: which models and versions exist, their state, and loading them.

Versions come from the model repository (``<repo>/<model>/<version>/``) when one is set
and holds the model, else from the plugin's shipped weights. Each loaded version gets its
own worker thread (model calls never overlap) and its own dynamic batcher.
"""

from __future__ import annotations

import asyncio
import enum
import functools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kiln.server import jax_runtime
from kiln.server.artifacts import versions_in
from kiln.server.batching import DynamicBatcher, zero_batch
from kiln.server.discovery import Catalog, PluginRecord
from kiln.server.errors import InvalidInput, ModelNotFound, ModelNotReady
from kiln.server.plugin import GenerationRequest, LoadContext, Model, ModelSpec
from kiln.server.settings import BatchingSettings, KilnSettings
from kiln.server.stats import InferenceStats
from kiln.server.worker import ModelWorker

log = logging.getLogger(__name__)


class ModelState(enum.Enum):
    """Life-cycle state of one model version."""

    LOADING = "LOADING"
    READY = "READY"
    UNLOADING = "UNLOADING"
    UNAVAILABLE = "UNAVAILABLE"
    FAILED = "FAILED"


@dataclass
class ModelVersion:
    """One version of a model: where its weights are, its state, and once loaded its runtime."""

    model_name: str
    version: str
    artifact_dir: Path
    state: ModelState = ModelState.UNAVAILABLE
    reason: str = ""
    model: Model | None = None
    batcher: DynamicBatcher | None = None
    worker: ModelWorker | None = None
    stats: InferenceStats = field(default_factory=InferenceStats)

    async def run(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run `fn(*args)` on this version's worker thread."""
        if self.worker is None:
            raise ModelNotReady(f"model {self.model_name!r} version {self.version} is not loaded")
        return await asyncio.get_running_loop().run_in_executor(self.worker, fn, *args)


@dataclass
class ModelEntry:
    """A model known to the server, with its versions (newest first)."""

    spec: ModelSpec
    plugin: PluginRecord
    batching: BatchingSettings
    versions: list[ModelVersion]

    @functools.cached_property
    def buckets(self) -> tuple[int, ...]:
        """Compiled batch sizes (settings override the plugin's)."""
        return tuple(sorted(set(self.batching.batch_buckets or self.spec.batch_buckets)))

    @functools.cached_property
    def max_batch_size(self) -> int:
        """Largest batch one request may carry."""
        return min(self.batching.max_batch_size or self.spec.max_batch_size, self.buckets[-1])


def _warm_up_generation(model: Model, chunk_size: int) -> None:
    request = GenerationRequest(count=chunk_size, seed=0, chunk_size=chunk_size)
    for _ in model.generate(request):  # type: ignore[attr-defined]
        pass


def parse_version(text: str) -> str:
    """Normalise a version label (a positive decimal integer); '' stays ''."""
    if text == "":
        return ""
    if not text.isdigit() or int(text) < 1:
        raise InvalidInput(
            f"version {text!r} is not a positive integer", reason="VERSION_INVALID", field="version"
        )
    return str(int(text))


class ModelRegistry:
    """All models, their versions and states; loads and unloads them."""

    def __init__(self, catalog: Catalog, settings: KilnSettings) -> None:
        self._settings = settings
        self._entries = {
            name: ModelEntry(
                spec=found.spec,
                plugin=found.plugin,
                batching=settings.batching_for(name),
                versions=self._find_versions(found.spec),
            )
            for name, found in catalog.models.items()
        }
        self._lock = asyncio.Lock()

    def entries(self) -> list[ModelEntry]:
        """Every model, sorted by name."""
        return list(self._entries.values())

    def entry(self, name: str) -> ModelEntry:
        """The model called `name`, ready or not."""
        try:
            return self._entries[name]
        except KeyError:
            raise ModelNotFound(
                f"no model named {name!r}; known models: {sorted(self._entries)}",
                metadata={"model": name},
            ) from None

    def resolve(self, name: str, version: str = "") -> tuple[ModelEntry, ModelVersion]:
        """The ready version to serve a request with (newest ready when `version` is '')."""
        entry = self.entry(name)
        wanted = parse_version(version)
        candidates = [v for v in entry.versions if not wanted or v.version == wanted]
        if not candidates:
            raise ModelNotFound(
                f"model {name!r} has no version {wanted}; versions: "
                f"{[v.version for v in entry.versions]}",
                reason="VERSION_NOT_FOUND",
                metadata={"model": name, "version": wanted},
            )
        for candidate in candidates:
            if candidate.state is ModelState.READY:
                return entry, candidate
        state = candidates[0]
        raise ModelNotReady(
            f"model {name!r} version {state.version} is {state.state.value}"
            + (f": {state.reason}" if state.reason else "; retry once it is READY"),
            metadata={"model": name, "version": state.version, "state": state.state.value},
        )

    @property
    def all_ready(self) -> bool:
        """True when every served version of every model is READY."""
        return all(v.state is ModelState.READY for e in self._entries.values() for v in e.versions)

    async def load_all(self) -> None:
        """Load every model's selected versions; failures are recorded, not raised."""
        for entry in self._entries.values():
            for version in entry.versions:
                await self._load_version(entry, version)

    async def load(self, name: str) -> None:
        """(Re)load a model's versions, picking up new ones in the repository."""
        entry = self.entry(name)
        async with self._lock:
            found = {v.version: v for v in self._find_versions(entry.spec)}
            current = {v.version: v for v in entry.versions}
            for label, version in found.items():
                if label not in current:
                    current[label] = version
            entry.versions = sorted(current.values(), key=lambda v: int(v.version), reverse=True)
            for version in entry.versions:
                if version.state is not ModelState.READY:
                    await self._load_version(entry, version)

    async def unload(self, name: str) -> None:
        """Unload every version of a model after its queued work finishes."""
        entry = self.entry(name)
        async with self._lock:
            for version in entry.versions:
                await self._unload_version(version)

    async def close(self) -> None:
        """Unload everything (server shutdown)."""
        for entry in self._entries.values():
            for version in entry.versions:
                await self._unload_version(version)

    def _find_versions(self, spec: ModelSpec) -> list[ModelVersion]:
        repo = self._settings.model_repository
        model_dir = repo / spec.name if repo else None
        if model_dir and model_dir.is_dir():
            labels = versions_in(model_dir)[::-1][: self._settings.version_policy_latest]
            return [ModelVersion(spec.name, str(v), model_dir / str(v)) for v in labels]
        if spec.default_artifact is not None:
            label = spec.default_artifact.name if spec.default_artifact.name.isdigit() else "1"
            return [ModelVersion(spec.name, label, spec.default_artifact)]
        return []

    async def _load_version(self, entry: ModelEntry, version: ModelVersion) -> None:
        spec = entry.spec
        version.state, version.reason = ModelState.LOADING, ""
        version.worker = ModelWorker(f"kiln-{spec.name}-{version.version}")
        started = time.perf_counter()
        compiles_before = jax_runtime.compile_count()
        try:
            context = LoadContext(version.artifact_dir, version.version, entry.buckets)
            model = await version.run(spec.factory, context)
            await version.run(model.load)
            for size in entry.buckets:  # compile every bucket before reporting READY
                await version.run(model.predict, zero_batch(spec, size))
            if spec.generative:  # and the default generation chunk
                await version.run(_warm_up_generation, model, self._settings.default_chunk_size)
        except Exception as err:
            log.exception("model %s version %s failed to load", spec.name, version.version)
            version.state, version.reason = ModelState.FAILED, f"{type(err).__name__}: {err}"
            version.worker.shutdown(wait=False)
            version.worker = None
            return
        version.model = model
        version.batcher = DynamicBatcher(
            model,
            spec,
            buckets=entry.buckets,
            max_batch_size=entry.max_batch_size,
            max_queue_delay_s=entry.batching.max_queue_delay_us / 1e6,
            busy_queue_delay_s=entry.batching.busy_queue_delay_us / 1e6,
            max_queue_size=entry.batching.max_queue_size,
            worker=version.worker,
            stats=version.stats,
        )
        version.batcher.start()
        version.state = ModelState.READY
        log.info(
            "loaded model %s version %s from %s (%s, buckets %s, %d compiles) in %.1fs",
            spec.name,
            version.version,
            version.artifact_dir,
            entry.plugin.distribution or entry.plugin.name,
            list(entry.buckets),
            jax_runtime.compile_count() - compiles_before,
            time.perf_counter() - started,
        )

    async def _unload_version(self, version: ModelVersion) -> None:
        if version.state is not ModelState.READY:
            return
        version.state = ModelState.UNLOADING
        if version.batcher:
            await version.batcher.close()
        model, worker = version.model, version.worker
        if model is not None and worker is not None:
            try:
                await version.run(model.unload)
            except Exception:
                log.exception(
                    "model %s version %s failed to unload", version.model_name, version.version
                )
            worker.shutdown(wait=True)
        version.model = version.batcher = version.worker = None
        version.state = ModelState.UNAVAILABLE
        log.info("unloaded model %s version %s", version.model_name, version.version)
