"""The Kiln entry point of the classifier plugin: declares the ``digits`` model.

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
    TensorSpec,
    TrainContext,
    TrainResult,
    hookimpl,
)
from kiln_classifier.artifacts import default_artifact_dir
from kiln_classifier.config import ClassifierTrainConfig

#: Batch sizes compiled for serving; chosen from CPU timings, see BUCKETS.md.
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64)
#: Largest batch one request may carry.
MAX_BATCH_SIZE = 64


def _create_model(ctx: LoadContext) -> Model:
    from kiln_classifier.serving import DigitsClassifier

    return DigitsClassifier(ctx)


def _train(ctx: TrainContext) -> TrainResult:
    from kiln_classifier.training import train

    return train(ctx)


def _evaluate(ctx: EvaluateContext) -> EvaluationResult:
    from kiln_classifier.evaluation import evaluate

    return evaluate(ctx)


@hookimpl
def kiln_model_specs() -> Iterator[ModelSpec]:
    """Yield the ``digits`` model spec."""
    yield ModelSpec(
        name="digits",
        description="Handwritten digit classifier (Flax CNN on scikit-learn's 8x8 digits).",
        inputs=(
            TensorSpec(
                "image",
                "float32",
                (-1, 28, 28, 1),
                "Grayscale digit in [0, 1], 0 = background: an 8x8 sklearn digit divided "
                "by 16, upsampled 3x (np.kron) and zero-padded by 2 pixels.",
            ),
        ),
        outputs=(
            TensorSpec("logits", "float32", (-1, 10), "Unnormalized class scores."),
            TensorSpec("probabilities", "float32", (-1, 10), "Softmax of the logits."),
            TensorSpec("label", "int64", (-1,), "Most probable digit (argmax of the logits)."),
        ),
        factory=_create_model,
        default_artifact=default_artifact_dir(),
        batch_buckets=BATCH_BUCKETS,
        max_batch_size=MAX_BATCH_SIZE,
        train=_train,
        evaluate=_evaluate,
        config_model=ClassifierTrainConfig,
    )
