"""Time the digits-gan generator on CPU for batch sizes 1..64 (input to BUCKETS.md).

Run from the repository root: ``JAX_PLATFORMS=cpu .venv/bin/python
plugins/gan/scripts/measure_buckets.py``. Loads the shipped weights with `DigitsGenerator`
(which compiles every size), then times ``predict`` (numpy in, numpy out: what Kiln calls).
Prints Markdown: the median time per size, then for candidate bucket sets the slowdown
padding causes (time of the bucket a batch is padded to over the time of its own size),
averaged over sizes 1..64 and at its worst.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Mapping, Sequence

import numpy as np

from kiln.server.plugin import LoadContext
from kiln_gan.artifacts import default_artifact_dir
from kiln_gan.serving import DigitsGenerator
from kiln_gan.signature import LATENT_DIM

#: Bucket sets compared in the output (each must end at the largest batch size).
CANDIDATES = (
    (1, 8, 32, 64),
    (1, 4, 16, 64),
    (1, 8, 16, 32, 64),
    (1, 4, 8, 16, 32, 64),
    (1, 4, 16, 32, 64),
    (1, 2, 4, 8, 16, 32, 64),
    (1, 16, 32, 48, 64),
)


def padding_slowdown(medians: Mapping[int, float], buckets: Sequence[int]) -> tuple[float, float]:
    """Mean and worst ratio time(bucket)/time(n) over all batch sizes n in `medians`."""
    ratios = [medians[min(b for b in buckets if b >= n)] / medians[n] for n in medians]
    return float(np.mean(ratios)), float(np.max(ratios))


def main() -> None:
    """Measure median latency per batch size and print it as Markdown tables."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--max-batch", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=40)
    args = parser.parse_args()

    sizes = range(1, args.max_batch + 1)
    model = DigitsGenerator(LoadContext(default_artifact_dir(), "1", tuple(sizes)))
    started = time.perf_counter()
    model.load()  # compiles every size
    compile_s = time.perf_counter() - started
    rng = np.random.default_rng(0)
    inputs = {n: {"z": rng.standard_normal((n, LATENT_DIM), dtype=np.float32)} for n in sizes}
    for n in sizes:
        for _ in range(3):
            model.predict(inputs[n])

    # Every round visits the sizes in a fresh random order, so load from other processes
    # spreads evenly over them and no size always follows the largest one (cold caches).
    timings: dict[int, list[float]] = {n: [] for n in sizes}
    for _ in range(args.rounds):
        for n in rng.permutation(np.array(sizes)):
            n = int(n)
            start = time.perf_counter()
            model.predict(inputs[n])
            timings[n].append(time.perf_counter() - start)

    medians = {n: float(np.median(timings[n])) for n in sizes}
    print(f"load (compiling {len(sizes)} sizes): {compile_s:.1f} s\n")
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
