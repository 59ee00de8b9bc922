"""The Kiln plugin API: everything a model plugin imports.

A minimal plugin::

    from kiln.server.plugin import ModelSpec, TensorSpec, hookimpl

    @hookimpl
    def kiln_model_specs():
        yield ModelSpec(
            name="echo",
            description="Returns its input.",
            inputs=(TensorSpec("x", "float32", (-1, 4)),),
            outputs=(TensorSpec("y", "float32", (-1, 4)),),
            factory=lambda ctx: EchoModel(),
        )

See `kiln.server.plugin.hookspecs` for the hooks and `kiln.server.plugin.specs` for the
records and the `Model` contract.
"""

from kiln.server.plugin.hookspecs import PROJECT_NAME, hookimpl
from kiln.server.plugin.specs import (
    SUPPORTED_DTYPES,
    EvaluateContext,
    EvaluationResult,
    GenerationRequest,
    GenerativeModel,
    LoadContext,
    Model,
    ModelSpec,
    ProgressReporter,
    TensorSpec,
    TrainContext,
    TrainResult,
)

__all__ = [
    "PROJECT_NAME",
    "SUPPORTED_DTYPES",
    "EvaluateContext",
    "EvaluationResult",
    "GenerationRequest",
    "GenerativeModel",
    "LoadContext",
    "Model",
    "ModelSpec",
    "ProgressReporter",
    "TensorSpec",
    "TrainContext",
    "TrainResult",
    "hookimpl",
]
