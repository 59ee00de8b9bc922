"""Time the digits model's predict on CPU for batch sizes 1..64 (input to BUCKETS.md).

Run from the repository root: ``JAX_PLATFORMS=cpu .venv/bin/python
plugins/classifier/scripts/measure_buckets.py``. Prints Markdown: the timing table, then
for a few candidate bucket sets the slowdown padding causes (time of the bucket a batch is
padded to, over the time of the batch's own size), averaged over batch sizes 1..64 and at
its worst.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Mapping, Sequence

import numpy as np

from kiln.server import jax_runtime
from kiln.server.plugin import LoadContext
from kiln_classifier.artifacts import default_artifact_dir
from kiln_classifier.serving import DigitsClassifier

#: Bucket sets compared in the output (each must end at the largest batch size).
CANDIDATES = (
    (1, 8, 16, 32, 64),
    (1, 6, 16, 32, 64),
    (1, 4, 16, 32, 64),
    (1, 8, 24, 40, 64),
    (1, 4, 8, 16, 32, 64),
    (1, 8, 32, 64),
    (1, 16, 32, 48, 64),
    (1, 2, 4, 8, 16, 32, 64),
    (1, 2, 4, 8, 16, 24, 32, 64),
)


def padding_slowdown(medians: Mapping[int, float], buckets: Sequence[int]) -> tuple[float, float]:
    """Mean and worst ratio time(bucket)/time(n) over all batch sizes n in `medians`."""
    ratios = [medians[min(b for b in buckets if b >= n)] / medians[n] for n in medians]
    return float(np.mean(ratios)), float(np.max(ratios))


def main() -> None:
    """Measure median latency per batch size and print it as a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--max-batch", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=40)
    args = parser.parse_args()

    jax_runtime.dispatch_synchronously()  # as `kiln serve` runs models
    sizes = range(1, args.max_batch + 1)
    model = DigitsClassifier(LoadContext(default_artifact_dir(), "1", tuple(sizes)))
    model.load()  # compiles every size
    rng = np.random.default_rng(0)
    inputs = {n: {"image": rng.random((n, 28, 28, 1), dtype=np.float32)} for n in sizes}
    for n in sizes:
        for _ in range(3):
            model.predict(inputs[n])

    # Every round visits all sizes in a fresh random order: load from other processes then
    # spreads evenly over the sizes, and no size always runs right after the largest one
    # (a fixed order made batch 1 look slower than batch 2 through cold caches).
    timings: dict[int, list[float]] = {n: [] for n in sizes}
    for _ in range(args.rounds):
        for n in rng.permutation(np.array(sizes)):
            n = int(n)
            start = time.perf_counter()
            model.predict(inputs[n])
            timings[n].append(time.perf_counter() - start)

    medians = {n: float(np.median(timings[n])) for n in sizes}
    print("| batch | median ms / call | µs / sample |")
    print("|------:|-----------------:|------------:|")
    for n, median in medians.items():
        print(f"| {n} | {median * 1e3:.3f} | {median * 1e6 / n:.1f} |")
    print()
    print("| buckets | mean slowdown | worst slowdown |")
    print("|---------|--------------:|---------------:|")
    for buckets in CANDIDATES:
        if buckets[-1] == args.max_batch:
            mean, worst = padding_slowdown(medians, buckets)
            print(f"| {buckets} | {mean:.2f}x | {worst:.2f}x |")


if __name__ == "__main__":
    main()
