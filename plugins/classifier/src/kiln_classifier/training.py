"""Training of the digits CNN: ``kiln train digits``.

The configuration, `ClassifierTrainConfig`, lives in `kiln_classifier.config` (it must
import without JAX) and is re-exported here.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import flax.serialization
import jax
import jax.numpy as jnp
import numpy as np
import optax

from kiln.server.plugin import TrainContext, TrainResult
from kiln_classifier.artifacts import PARAMS_FILE
from kiln_classifier.config import ClassifierTrainConfig
from kiln_classifier.data import IMAGE_SIZE, fingerprint, load_split
from kiln_classifier.model import DigitsCNN

__all__ = ["ClassifierTrainConfig", "make_step_functions", "random_shift", "train"]


def random_shift(key: jax.Array, images: jax.Array, max_shift: int) -> jax.Array:
    """Translate each image by its own random offset in [-max_shift, max_shift] pixels.

    Zero padding then cropping, rather than `jnp.roll`, so nothing wraps around the edge.
    """
    if max_shift == 0:
        return images
    padded = jnp.pad(images, ((0, 0), (max_shift, max_shift), (max_shift, max_shift), (0, 0)))
    offsets = jax.random.randint(key, (images.shape[0], 2), 0, 2 * max_shift + 1)

    def crop(image: jax.Array, offset: jax.Array) -> jax.Array:
        return jax.lax.dynamic_slice(
            image, (offset[0], offset[1], 0), (IMAGE_SIZE, IMAGE_SIZE, image.shape[-1])
        )

    return jax.vmap(crop)(padded, offsets)


def make_step_functions(
    model: DigitsCNN, optimizer: optax.GradientTransformation, max_shift: int
) -> tuple[Callable, Callable]:
    """Build the pure, jitted pair (train step, predicted labels) for `model`."""

    def loss_fn(params, images, labels):
        logits = model.apply({"params": params}, images)
        loss = optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()
        return loss, logits

    @jax.jit
    def train_step(params, opt_state, key, images, labels):
        images = random_shift(key, images, max_shift)
        (loss, logits), grads = jax.value_and_grad(loss_fn, has_aux=True)(params, images, labels)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        params = optax.apply_updates(params, updates)
        correct = jnp.sum(jnp.argmax(logits, -1) == labels)
        return params, opt_state, loss, correct

    @jax.jit
    def predict_labels(params, images):
        return jnp.argmax(model.apply({"params": params}, images), -1)

    return train_step, predict_labels


def _accuracy(predict_labels: Callable, params, images: np.ndarray, labels: np.ndarray) -> float:
    return float(np.mean(np.asarray(predict_labels(params, images)) == labels))


def _as_config(config: object) -> ClassifierTrainConfig:
    if config is None:
        return ClassifierTrainConfig()
    if isinstance(config, ClassifierTrainConfig):
        return config
    return ClassifierTrainConfig.model_validate(config)


def train(ctx: TrainContext) -> TrainResult:
    """Train the CNN on the training split and write ``params.msgpack`` to ``ctx.output_dir``.

    Reports one progress line per epoch and returns held-out metrics on the test split.
    """
    config = _as_config(ctx.config)
    started = time.perf_counter()
    # Always the default split: evaluation must hold out exactly what training never saw.
    split = load_split()
    model = DigitsCNN()

    # Whole batches only, so the step compiles once; shuffling each epoch still visits
    # every image over the run.
    steps_per_epoch = max(1, len(split.y_train) // config.batch_size)
    total_steps = config.epochs * steps_per_epoch
    schedule = optax.warmup_cosine_decay_schedule(
        init_value=0.0,
        peak_value=config.learning_rate,
        # At most half the run, so a short run (epochs=1) still has steps left to decay over.
        warmup_steps=min(int(config.warmup_epochs * steps_per_epoch), total_steps // 2),
        decay_steps=total_steps,
    )
    optimizer = optax.adamw(schedule, weight_decay=config.weight_decay)
    train_step, predict_labels = make_step_functions(model, optimizer, config.shift_pixels)

    key = jax.random.key(config.seed)
    key, init_key = jax.random.split(key)
    params = model.init(init_key, jnp.zeros((1, IMAGE_SIZE, IMAGE_SIZE, 1)))["params"]
    opt_state = optimizer.init(params)
    order_rng = np.random.default_rng(config.seed)

    for epoch in range(1, config.epochs + 1):
        order = order_rng.permutation(len(split.y_train))
        # Kept as device arrays until the epoch ends, so steps dispatch without waiting.
        losses, corrects = [], []
        for step in range(steps_per_epoch):
            batch = order[step * config.batch_size : (step + 1) * config.batch_size]
            key, step_key = jax.random.split(key)
            params, opt_state, loss, n_correct = train_step(
                params, opt_state, step_key, split.x_train[batch], split.y_train[batch]
            )
            losses.append(loss)
            corrects.append(n_correct)
        train_acc = int(np.sum(corrects)) / (steps_per_epoch * config.batch_size)
        test_acc = _accuracy(predict_labels, params, split.x_test, split.y_test)
        ctx.progress(
            f"epoch {epoch}/{config.epochs} loss {float(np.mean(losses)):.4f} "
            f"train_acc {train_acc:.4f} test_acc {test_acc:.4f}"
        )

    ctx.output_dir.mkdir(parents=True, exist_ok=True)
    (ctx.output_dir / PARAMS_FILE).write_bytes(flax.serialization.to_bytes(params))
    metrics = {
        "accuracy": _accuracy(predict_labels, params, split.x_test, split.y_test),
        "train_accuracy": _accuracy(predict_labels, params, split.x_train, split.y_train),
        "final_loss": float(np.mean(losses)),
        "train_seconds": time.perf_counter() - started,
    }
    return TrainResult(
        config=config.model_dump(), data_fingerprint=fingerprint(split), metrics=metrics
    )
