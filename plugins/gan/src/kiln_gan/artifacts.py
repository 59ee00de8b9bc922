"""Layout of a digits-gan version directory. Imports nothing heavy: `plugin` needs it."""

from __future__ import annotations

from pathlib import Path

#: File holding the generator's parameters (``flax.serialization.to_bytes`` of its
#: ``params`` collection). The discriminator is not part of a version.
GENERATOR_FILE = "generator.msgpack"
#: Folder of per-epoch sample grids that training writes beside the weights.
SAMPLES_DIR = "samples"


def default_artifact_dir() -> Path:
    """The version directory shipped inside the package (``weights/1``)."""
    return Path(__file__).resolve().parent / "weights" / "1"
