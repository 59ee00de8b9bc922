"""Scoring: the figures' arithmetic, and the shipped weights against their targets."""

from __future__ import annotations

import numpy as np
import pytest

from kiln.server.plugin import EvaluateContext
from kiln_gan.artifacts import default_artifact_dir
from kiln_gan.evaluation import (
    EVAL_SAMPLES,
    evaluate,
    frechet_distance,
    generate_samples,
    inception_score,
    score_samples,
)
from kiln_gan.serving import load_generator_params

#: Targets the shipped weights must meet (digits inception score, rarest predicted class).
TARGET_INCEPTION_SCORE = 7.5
TARGET_MIN_CLASS_FRACTION = 0.04


def test_inception_score_bounds() -> None:
    one_hot = np.eye(10)
    assert inception_score(one_hot) == pytest.approx(10.0)
    assert inception_score(np.tile(one_hot[3], (10, 1))) == pytest.approx(1.0)
    assert inception_score(np.full((10, 10), 0.1)) == pytest.approx(1.0)


def test_frechet_distance_of_gaussians() -> None:
    rng = np.random.default_rng(0)
    a = rng.standard_normal((4000, 5))
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)
    # Same covariance, means 2 apart in one coordinate: distance ≈ 4.
    assert frechet_distance(a, a + np.array([2.0, 0, 0, 0, 0])) == pytest.approx(4.0, abs=1e-6)
    # Scaled by 2: tr(S + 4S - 2·2S) = tr(S) ≈ 5.
    assert frechet_distance(a, 2 * a) == pytest.approx(5.0 + 0.0, rel=0.05)


@pytest.fixture(scope="module")
def shipped_scores():
    _, params = load_generator_params(default_artifact_dir())
    samples = generate_samples(params, EVAL_SAMPLES)
    return score_samples(samples)


def test_shipped_weights_meet_the_targets(shipped_scores) -> None:
    assert shipped_scores.sample_count >= 1000
    assert shipped_scores.inception_score >= TARGET_INCEPTION_SCORE, shipped_scores.report()
    assert shipped_scores.min_class_fraction >= TARGET_MIN_CLASS_FRACTION, shipped_scores.report()
    assert sum(shipped_scores.class_fractions) == pytest.approx(1.0)


def test_real_data_reference(shipped_scores) -> None:
    # The real held-out images set the ceiling the samples are compared with.
    assert shipped_scores.real_inception_score > 9.0
    assert shipped_scores.real_frechet_distance < shipped_scores.frechet_distance


def test_evaluate_writes_report_and_grid(tmp_path) -> None:
    lines: list[str] = []
    result = evaluate(EvaluateContext(default_artifact_dir(), tmp_path, lines.append))
    assert set(result.metrics) == {
        "inception_score",
        "frechet_distance",
        "min_class_fraction",
        "real_inception_score",
        "real_frechet_distance",
    }
    assert result.metrics["inception_score"] >= TARGET_INCEPTION_SCORE
    assert "inception score" in result.report
    assert len(result.files) == 1 and result.files[0].read_bytes().startswith(b"\x89PNG")
    assert lines
