"""Layout of a digits version directory. Imports nothing heavy: `plugin` needs it."""

from __future__ import annotations

from pathlib import Path

#: File holding the parameters (``flax.serialization.to_bytes`` of the params tree).
PARAMS_FILE = "params.msgpack"


def default_artifact_dir() -> Path:
    """The version directory shipped inside the package (``weights/1``)."""
    return Path(__file__).resolve().parent / "weights" / "1"
