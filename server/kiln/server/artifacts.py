"""Versioned model artifacts: ``<repository>/<model>/<version>/`` with weights and a manifest."""

from __future__ import annotations

import datetime
import json
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

from kiln.server import __version__
from kiln.server.plugin import ModelSpec, TrainResult

#: File name of the manifest inside a version directory.
MANIFEST = "manifest.json"


def versions_in(model_dir: Path) -> list[int]:
    """Version numbers present under a model's directory, ascending."""
    if not model_dir.is_dir():
        return []
    return sorted(int(p.name) for p in model_dir.iterdir() if p.is_dir() and p.name.isdigit())


def new_version_dir(repository: Path, model: str) -> Path:
    """Create and return the directory of the next version of `model`."""
    model_dir = repository / model
    existing = versions_in(model_dir)
    path = model_dir / str((existing[-1] if existing else 0) + 1)
    path.mkdir(parents=True)
    return path


def signature_of(spec: ModelSpec) -> dict[str, Any]:
    """The model's signature as JSON-compatible data."""
    return {
        "inputs": [asdict(t) for t in spec.inputs],
        "outputs": [asdict(t) for t in spec.outputs],
    }


def write_manifest(
    version_dir: Path, spec: ModelSpec, plugin: str, result: TrainResult
) -> dict[str, Any]:
    """Write the manifest of a freshly trained version and return it."""
    manifest = {
        "model": spec.name,
        "version": version_dir.name,
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "plugin": plugin,
        "kiln_version": __version__,
        "signature": signature_of(spec),
        "config": dict(result.config),
        "data_fingerprint": result.data_fingerprint,
        "metrics": dict(result.metrics),
    }
    (version_dir / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest


def read_manifest(version_dir: Path) -> dict[str, Any]:
    """The manifest of a version ({} when it has none)."""
    path = version_dir / MANIFEST
    return json.loads(path.read_text()) if path.is_file() else {}


def record_evaluation(version_dir: Path, metrics: Mapping[str, float]) -> None:
    """Store evaluation figures in the manifest under ``evaluation``."""
    manifest = read_manifest(version_dir)
    if not manifest:
        return
    manifest["evaluation"] = dict(metrics)
    (version_dir / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
