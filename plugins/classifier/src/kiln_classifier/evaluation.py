"""Evaluation of a digits version on the held-out split: ``kiln evaluate digits``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from kiln.server.plugin import EvaluateContext, EvaluationResult
from kiln_classifier.data import NUM_CLASSES, load_split
from kiln_classifier.serving import load_classifier

#: File name of the confusion-matrix plot inside ``report_dir``.
CONFUSION_PNG = "confusion-matrix.png"


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, n: int = NUM_CLASSES) -> np.ndarray:
    """Counts [n, n]: row = true class, column = predicted class."""
    matrix = np.zeros((n, n), dtype=np.int64)
    np.add.at(matrix, (y_true, y_pred), 1)
    return matrix


def per_class_scores(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Precision, recall and F1 per class from a confusion matrix (0 where undefined)."""
    tp = np.diag(matrix).astype(np.float64)
    predicted = matrix.sum(axis=0)
    actual = matrix.sum(axis=1)
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    recall = np.divide(tp, actual, out=np.zeros_like(tp), where=actual > 0)
    both = precision + recall
    f1 = np.divide(2 * precision * recall, both, out=np.zeros_like(tp), where=both > 0)
    return precision, recall, f1


def format_confusion(matrix: np.ndarray) -> str:
    """The confusion matrix as a fixed-width text table."""
    width = max(4, len(str(matrix.max())) + 1)
    header = "true\\pred" + "".join(f"{c:>{width}}" for c in range(matrix.shape[1]))
    rows = [f"{r:>9}" + "".join(f"{v:>{width}}" for v in row) for r, row in enumerate(matrix)]
    return "\n".join([header, *rows])


def format_scores(
    precision: np.ndarray, recall: np.ndarray, f1: np.ndarray, support: np.ndarray
) -> str:
    """Per-class precision/recall/F1/support as a text table."""
    lines = [f"{'class':>5} {'precision':>9} {'recall':>7} {'f1':>6} {'support':>7}"]
    for c, (p, r, f, s) in enumerate(zip(precision, recall, f1, support, strict=True)):
        lines.append(f"{c:>5} {p:>9.4f} {r:>7.4f} {f:>6.4f} {s:>7}")
    return "\n".join(lines)


def plot_confusion(matrix: np.ndarray, path: Path, title: str) -> None:
    """Draw the confusion matrix as a heat map with counts and write it as a PNG.

    Drawn with Pillow (already a dependency) rather than matplotlib, to keep the plugin's
    dependencies small.
    """
    cell, margin_left, margin_top = 44, 70, 84
    n = matrix.shape[0]
    size = (margin_left + n * cell + 20, margin_top + n * cell + 50)
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=14)

    # Row-normalized shading, so a class's errors stand out whatever its size; errors get
    # their own colour and a floor, because one mistake in ~36 would be near white.
    rows = matrix.sum(axis=1, keepdims=True)
    shade = np.divide(matrix, rows, out=np.zeros(matrix.shape), where=rows > 0)
    for r in range(n):
        for c in range(n):
            x0, y0 = margin_left + c * cell, margin_top + r * cell
            level = shade[r, c]
            if r != c and matrix[r, c] > 0:
                level = 0.3 + 0.7 * level
            dark = (8, 48, 107) if r == c else (165, 15, 21)
            fill = tuple(int(255 - level * (255 - v)) for v in dark)
            draw.rectangle((x0, y0, x0 + cell, y0 + cell), fill=fill, outline="#cccccc")
            text_fill = "white" if level > 0.5 else "black"
            draw.text(
                (x0 + cell / 2, y0 + cell / 2),
                str(matrix[r, c]),
                fill=text_fill,
                font=font,
                anchor="mm",
            )
        draw.text(
            (margin_left - 8, margin_top + r * cell + cell / 2),
            str(r),
            fill="black",
            font=font,
            anchor="rm",
        )
    for c in range(n):
        draw.text(
            (margin_left + c * cell + cell / 2, margin_top - 8),
            str(c),
            fill="black",
            font=font,
            anchor="mb",
        )
    draw.text((margin_left, 10), title, fill="black", font=font)
    draw.text((margin_left + n * cell / 2, 38), "predicted", fill="black", font=font, anchor="mt")
    draw.text((10, margin_top + n * cell / 2), "true", fill="black", font=font, anchor="lm")
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)


def evaluate(ctx: EvaluateContext) -> EvaluationResult:
    """Score the version in ``ctx.artifact_dir`` on the held-out split.

    Returns accuracy and macro-averaged scores as metrics, per-class precision/recall/F1
    and the confusion matrix as the report, and writes the confusion-matrix PNG.
    """
    ctx.progress(f"loading weights from {ctx.artifact_dir}")
    classifier = load_classifier(ctx.artifact_dir)
    # The same split training used, so these images were never trained on.
    split = load_split()
    ctx.progress(f"classifying {len(split.y_test)} held-out images")
    predicted = np.argmax(classifier.probabilities(split.x_test), axis=-1)

    matrix = confusion_matrix(split.y_test, predicted)
    precision, recall, f1 = per_class_scores(matrix)
    support = matrix.sum(axis=1)
    accuracy = float(np.trace(matrix) / matrix.sum())
    errors = int(matrix.sum() - np.trace(matrix))

    ctx.progress("writing the confusion matrix plot")
    png = ctx.report_dir / CONFUSION_PNG
    plot_confusion(matrix, png, f"digits: accuracy {accuracy:.4f} ({errors} errors)")

    report = "\n\n".join(
        [
            f"held-out images: {len(split.y_test)}  accuracy: {accuracy:.4f}  errors: {errors}",
            format_scores(precision, recall, f1, support),
            "confusion matrix (rows: true class, columns: predicted class)\n"
            + format_confusion(matrix),
        ]
    )
    metrics = {
        "accuracy": accuracy,
        "macro_precision": float(precision.mean()),
        "macro_recall": float(recall.mean()),
        "macro_f1": float(f1.mean()),
        "errors": float(errors),
    }
    return EvaluationResult(metrics=metrics, report=report, files=(png,))
