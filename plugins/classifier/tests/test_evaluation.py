"""Evaluation of the shipped weights on the held-out split."""

from __future__ import annotations

import numpy as np
from PIL import Image

from kiln.server.plugin import EvaluateContext, EvaluationResult
from kiln_classifier.artifacts import default_artifact_dir
from kiln_classifier.evaluation import (
    CONFUSION_PNG,
    confusion_matrix,
    format_confusion,
    per_class_scores,
)


def test_evaluate_shipped_weights(tmp_path, split) -> None:
    from kiln_classifier.evaluation import evaluate

    lines: list[str] = []
    ctx = EvaluateContext(default_artifact_dir(), tmp_path / "report", lines.append)
    result = evaluate(ctx)

    assert isinstance(result, EvaluationResult)
    assert result.metrics["accuracy"] >= 0.985
    assert result.metrics["errors"] == round((1 - result.metrics["accuracy"]) * 360)
    assert 0 < result.metrics["macro_f1"] <= 1
    assert len(lines) >= 2

    png = tmp_path / "report" / CONFUSION_PNG
    assert result.files == (png,)
    with Image.open(png) as image:
        assert image.format == "PNG" and image.size[0] > 200

    assert "confusion matrix" in result.report
    assert "true\\pred   0   1   2   3   4   5   6   7   8   9" in result.report
    # One row per class in the table, summing to that class's test images.
    rows = [line.split() for line in result.report.splitlines() if line.startswith("        ")]
    counts = np.array([[int(v) for v in row[1:]] for row in rows])
    np.testing.assert_array_equal(counts.sum(axis=1), np.bincount(split.y_test, minlength=10))
    assert "precision" in result.report and "recall" in result.report


def test_metrics_on_a_known_example() -> None:
    y_true = np.array([0, 0, 1, 1, 2, 2])
    y_pred = np.array([0, 1, 1, 1, 2, 0])
    matrix = confusion_matrix(y_true, y_pred, n=3)
    np.testing.assert_array_equal(matrix, [[1, 1, 0], [0, 2, 0], [1, 0, 1]])
    precision, recall, f1 = per_class_scores(matrix)
    np.testing.assert_allclose(precision, [0.5, 2 / 3, 1.0])
    np.testing.assert_allclose(recall, [0.5, 1.0, 0.5])
    np.testing.assert_allclose(f1, [0.5, 0.8, 2 / 3])
    assert format_confusion(matrix).splitlines()[2].split() == ["1", "0", "2", "0"]


def test_metrics_with_an_absent_class_are_zero_not_nan() -> None:
    matrix = confusion_matrix(np.array([0, 0]), np.array([0, 0]), n=2)
    precision, recall, f1 = per_class_scores(matrix)
    np.testing.assert_array_equal(precision, [1.0, 0.0])
    np.testing.assert_array_equal(recall, [1.0, 0.0])
    assert not np.isnan(f1).any()
