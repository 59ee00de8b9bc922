"""The Kiln entry point of the GAN plugin: declares the ``digits-gan`` model.

Kiln imports this module at discovery time, so it imports no JAX: the factory and the
train/evaluate entry points import their modules when first called.
"""

from __future__ import annotations

from collections.abc import Iterator

from kiln.server.plugin import (
    EvaluateContext,
    EvaluationResult,
    LoadContext,
    Model,
    ModelSpec,
    TrainContext,
    TrainResult,
    hookimpl,
)
from kiln_gan.artifacts import default_artifact_dir
from kiln_gan.signature import INPUTS, OUTPUTS
from kiln_gan.training import GanTrainConfig

#: Batch sizes compiled for serving; chosen from CPU timings, see BUCKETS.md.
BATCH_BUCKETS = (1, 4, 16, 32, 64)
#: Largest batch one request may carry.
MAX_BATCH_SIZE = 64


def _create_model(ctx: LoadContext) -> Model:
    from kiln_gan.serving import DigitsGenerator

    return DigitsGenerator(ctx)


def _train(ctx: TrainContext) -> TrainResult:
    from kiln_gan.training import train

    return train(ctx)


def _evaluate(ctx: EvaluateContext) -> EvaluationResult:
    from kiln_gan.evaluation import evaluate

    return evaluate(ctx)


@hookimpl
def kiln_model_specs() -> Iterator[ModelSpec]:
    """Yield the ``digits-gan`` model spec."""
    yield ModelSpec(
        name="digits-gan",
        description="DCGAN (Flax) drawing 28x28 handwritten digits from 100-d normal latents.",
        inputs=INPUTS,
        outputs=OUTPUTS,
        factory=_create_model,
        default_artifact=default_artifact_dir(),
        batch_buckets=BATCH_BUCKETS,
        max_batch_size=MAX_BATCH_SIZE,
        train=_train,
        evaluate=_evaluate,
        config_model=GanTrainConfig,
        generative=True,
    )
