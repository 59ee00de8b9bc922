"""Scoring generated digits with the digits classifier (``kiln evaluate digits-gan``).

Figures, all computed with the `kiln_classifier` CNN in place of Inception:

* inception score: ``exp(mean_x KL(p(y|x) || p(y)))`` over all samples in one split (1 to
  10; high when each sample is confidently one digit and all digits occur);
* Fréchet distance between Gaussians fitted to the classifier's penultimate features of
  the samples and of the held-out (test) real images;
* the fraction of samples predicted as each digit (mode collapse shows as a small minimum);
* the same inception score for the real test images, and the Fréchet distance between
  real test and real train features, as references for what "as good as data" means.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from kiln_gan import data

if TYPE_CHECKING:
    from kiln.server.plugin import EvaluateContext, EvaluationResult
    from kiln_classifier.data import DigitsSplit

#: Samples scored by `evaluate` (the figures need >= 1000 to be stable).
EVAL_SAMPLES = 2000
#: Seed of the latents `evaluate` scores.
EVAL_SEED = 0
#: Chunk size samples are generated in for scoring.
EVAL_CHUNK = 500
#: File name of the sample grid `evaluate` writes into the report directory.
GRID_FILE = "samples.png"
#: Number of digit classes.
NUM_CLASSES = 10


class Classifier(Protocol):
    """What scoring needs from the digits classifier (``kiln_classifier.serving``)."""

    def probabilities(self, x: np.ndarray) -> np.ndarray:
        """Class probabilities [N, 10] for images float32 [N, 28, 28, 1] in [0, 1]."""

    def features(self, x: np.ndarray) -> np.ndarray:
        """Penultimate features [N, F] for images float32 [N, 28, 28, 1] in [0, 1]."""


def inception_score(probabilities: np.ndarray) -> float:
    """``exp(mean KL(p(y|x) || p(y)))`` with ``p(y)`` the mean of the rows (one split)."""
    p = np.asarray(probabilities, dtype=np.float64)
    eps = 1e-12  # keeps log finite for probabilities that underflowed to 0
    marginal = p.mean(axis=0, keepdims=True)
    kl = np.sum(p * (np.log(p + eps) - np.log(marginal + eps)), axis=1)
    return float(np.exp(kl.mean()))


def _sqrt_psd(matrix: np.ndarray) -> np.ndarray:
    # Symmetric square root via eigh; tiny negative eigenvalues from rounding are clipped.
    values, vectors = np.linalg.eigh(matrix)
    return (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T


def frechet_distance(features_a: np.ndarray, features_b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets [N, F] and [M, F].

    ``|mu_a - mu_b|² + tr(S_a + S_b - 2 (S_a^½ S_b S_a^½)^½)``; the cross term is computed
    from symmetric matrices only, which needs no scipy and stays real.
    """
    a = np.asarray(features_a, dtype=np.float64)
    b = np.asarray(features_b, dtype=np.float64)
    mu_a, mu_b = a.mean(axis=0), b.mean(axis=0)
    cov_a = np.cov(a, rowvar=False)
    cov_b = np.cov(b, rowvar=False)
    root_a = _sqrt_psd(cov_a)
    cross = np.linalg.eigvalsh(root_a @ cov_b @ root_a)
    trace_cross = np.sqrt(np.clip(cross, 0.0, None)).sum()
    value = np.sum((mu_a - mu_b) ** 2) + np.trace(cov_a) + np.trace(cov_b) - 2.0 * trace_cross
    return float(max(value, 0.0))


@dataclass(frozen=True)
class SampleScores:
    """The figures of one scored set of samples (see the module docstring).

    Attributes:
        sample_count: Number of generated samples scored.
        inception_score: Digits inception score of the samples.
        frechet_distance: Fréchet distance, samples vs real test images.
        class_fractions: Fraction of samples predicted as each digit, [10].
        real_inception_score: Inception score of the real test images.
        real_frechet_distance: Fréchet distance, real test vs real train images.
        real_count: Number of real test images.
    """

    sample_count: int
    inception_score: float
    frechet_distance: float
    class_fractions: tuple[float, ...]
    real_inception_score: float
    real_frechet_distance: float
    real_count: int

    @property
    def min_class_fraction(self) -> float:
        """Share of the rarest predicted digit (0.1 is perfectly balanced)."""
        return min(self.class_fractions)

    def metrics(self) -> dict[str, float]:
        """The headline figures, as recorded in a version's manifest."""
        return {
            "inception_score": self.inception_score,
            "frechet_distance": self.frechet_distance,
            "min_class_fraction": self.min_class_fraction,
            "real_inception_score": self.real_inception_score,
            "real_frechet_distance": self.real_frechet_distance,
        }

    def report(self) -> str:
        """A text report: the figures next to their real-data references, and the classes."""
        lines = [
            f"digits-gan: {self.sample_count} generated samples, "
            f"{self.real_count} real test images",
            "",
            f"{'figure':<22}{'samples':>10}{'real data':>12}",
            f"{'inception score':<22}{self.inception_score:>10.3f}"
            f"{self.real_inception_score:>12.3f}   (max 10)",
            f"{'frechet distance':<22}{self.frechet_distance:>10.3f}"
            f"{self.real_frechet_distance:>12.3f}   (real: test vs train)",
            "",
            "predicted class of the samples:",
        ]
        for digit, fraction in enumerate(self.class_fractions):
            bar = "#" * round(fraction * 100)
            lines.append(f"  {digit}: {fraction:6.1%} {bar}")
        lines.append(f"min class fraction: {self.min_class_fraction:.1%}")
        return "\n".join(lines)


def _in_batches(fn: Any, x: np.ndarray, batch: int = 500) -> np.ndarray:
    # Bounded batches keep memory flat whatever the sample count.
    return np.concatenate([np.asarray(fn(x[i : i + batch])) for i in range(0, len(x), batch)])


def score_samples(
    samples: np.ndarray,
    *,
    split: DigitsSplit | None = None,
    classifier: Classifier | None = None,
    data_seed: int = 0,
) -> SampleScores:
    """Score generated images with the digits classifier.

    Args:
        samples: Generated images float32 [N, 28, 28, 1] in [-1, 1] (N >= 1000 for stable
            figures; fewer are accepted, e.g. in tests).
        split: The digits split (its test images are the real reference); loaded with
            `data_seed` when omitted.
        classifier: Anything with ``probabilities`` and ``features``; the classifier's
            shipped default weights when omitted.
        data_seed: Seed of the split loaded when `split` is omitted.
    """
    if classifier is None:
        from kiln_classifier.serving import load_classifier

        classifier = load_classifier(None)
    if split is None:
        split = data.load_split(seed=data_seed)

    images = data.to_unit(samples)
    probs = _in_batches(classifier.probabilities, images)
    feats = _in_batches(classifier.features, images)
    real_probs = _in_batches(classifier.probabilities, split.x_test)
    real_feats = _in_batches(classifier.features, split.x_test)
    train_feats = _in_batches(classifier.features, split.x_train)

    counts = np.bincount(np.argmax(probs, axis=1), minlength=NUM_CLASSES)
    return SampleScores(
        sample_count=len(images),
        inception_score=inception_score(probs),
        frechet_distance=frechet_distance(feats, real_feats),
        class_fractions=tuple(float(c) for c in counts / len(images)),
        real_inception_score=inception_score(real_probs),
        real_frechet_distance=frechet_distance(real_feats, train_feats),
        real_count=len(split.x_test),
    )


def generate_samples(
    params: Any, count: int, seed: int = EVAL_SEED, chunk_size: int = EVAL_CHUNK
) -> np.ndarray:
    """Generate `count` images [count, 28, 28, 1] in [-1, 1] from generator parameters.

    Uses the same seeded stream as the server, so the scored images are exactly those a
    client asking for this seed would get.
    """
    from kiln_gan.model import generator_from_params
    from kiln_gan.serving import SampleStream

    stream = SampleStream(generator_from_params(params), params)
    return np.concatenate(list(stream.iterate(count, seed, min(chunk_size, max(count, 1)))))


def evaluate(ctx: EvaluateContext) -> EvaluationResult:
    """Score the version in ``ctx.artifact_dir``: figures, a text report and a sample grid."""
    from kiln.server.plugin import EvaluationResult
    from kiln_gan.imaging import sample_grid_png
    from kiln_gan.serving import load_generator_params

    ctx.progress(f"loading the generator from {ctx.artifact_dir}")
    _, params = load_generator_params(ctx.artifact_dir)
    ctx.progress(f"generating {EVAL_SAMPLES} samples (seed {EVAL_SEED})")
    samples = generate_samples(params, EVAL_SAMPLES, seed=EVAL_SEED)
    ctx.progress("scoring them with the digits classifier")
    scores = score_samples(samples)

    ctx.report_dir.mkdir(parents=True, exist_ok=True)
    grid_path = ctx.report_dir / GRID_FILE
    grid_path.write_bytes(sample_grid_png(samples[:100], columns=10))
    return EvaluationResult(metrics=scores.metrics(), report=scores.report(), files=(grid_path,))
