"""The model-side limits: the same Flax models called in-process, no server at all.

``digits``: the plugin's `DigitsClassifier.predict` (numpy in, numpy out: exactly what
Kiln's batcher calls) per batch size. ``digits-gan``: `DigitsGenerator.predict` for a
batch of 16 latents, and `DigitsGenerator.generate` of 256 samples per chunk size
(samples/s, time of the first chunk, median time of one chunk). Prints one JSON object.
Each measurement is timed in several rounds with the sizes in a fresh random order, and
the median round is reported (the machine may be shared).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from kiln.server.plugin import GenerationRequest, LoadContext


def _time_calls(fn, seconds: float) -> float:
    """Median seconds per call of `fn()` over about `seconds`."""
    times = []
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline or len(times) < 5:
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def digits(batches: list[int], rounds: int, seconds: float) -> list[dict]:
    """Calls/s and samples/s of the classifier per batch size."""
    from kiln_classifier.serving import DigitsClassifier, default_artifact_dir

    model = DigitsClassifier(LoadContext(default_artifact_dir(), "1", tuple(batches)))
    model.load()
    rng = np.random.default_rng(0)
    inputs = {b: {"image": rng.random((b, 28, 28, 1), dtype=np.float32)} for b in batches}
    per_round: dict[int, list[float]] = {b: [] for b in batches}
    for _ in range(rounds):
        for b in random.sample(batches, len(batches)):
            per_round[b].append(_time_calls(lambda b=b: model.predict(inputs[b]), seconds))
    rows = []
    for b in batches:
        call = statistics.median(per_round[b])
        rows.append(
            {
                "batch": b,
                "ms_per_call": call * 1e3,
                "calls_per_s": 1 / call,
                "samples_per_s": b / call,
            }
        )
    return rows


def gan(artifact: Path, chunks: list[int], count: int, rounds: int, seconds: float) -> dict:
    """The generator's batch-16 predict, and generation of `count` samples per chunk size."""
    from kiln_gan.serving import DigitsGenerator

    model = DigitsGenerator(LoadContext(artifact, "1", (16,)))
    model.load()
    z = {"z": np.random.default_rng(0).standard_normal((16, 100), dtype=np.float32)}
    predict16 = [_time_calls(lambda: model.predict(z), seconds) for _ in range(rounds)]

    def stream(chunk: int) -> tuple[float, float, list[float]]:
        started = time.perf_counter()
        first, steps, last = None, [], started
        for _ in model.generate(GenerationRequest(count=count, seed=7, chunk_size=chunk)):
            now = time.perf_counter()
            first = first if first is not None else now - started
            steps.append(now - last)
            last = now
        return time.perf_counter() - started, first, steps

    for chunk in chunks:  # compile every chunk size before timing any
        stream(chunk)
    totals: dict[int, list[float]] = {c: [] for c in chunks}
    firsts: dict[int, list[float]] = {c: [] for c in chunks}
    steps: dict[int, list[float]] = {c: [] for c in chunks}
    for _ in range(rounds):
        for chunk in random.sample(chunks, len(chunks)):
            deadline = time.perf_counter() + seconds
            while True:
                total, first, chunk_steps = stream(chunk)
                totals[chunk].append(total)
                firsts[chunk].append(first)
                steps[chunk].extend(chunk_steps)
                if time.perf_counter() >= deadline:
                    break
    generate = []
    for chunk in chunks:
        total = statistics.median(totals[chunk])
        generate.append(
            {
                "chunk_size": chunk,
                "count": count,
                "ms_per_stream": total * 1e3,
                "samples_per_s": count / total,
                "first_chunk_ms": statistics.median(firsts[chunk]) * 1e3,
                "chunk_ms": statistics.median(steps[chunk]) * 1e3,
            }
        )
    call = statistics.median(predict16)
    return {
        "predict_b16": {
            "ms_per_call": call * 1e3,
            "calls_per_s": 1 / call,
            "samples_per_s": 16 / call,
        },
        "generate": generate,
    }


def main() -> int:
    """Entry point; prints the JSON result."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batches", type=int, nargs="+", default=[1, 8, 32, 64])
    p.add_argument("--chunks", type=int, nargs="+", default=[16, 32, 64, 128])
    p.add_argument("--count", type=int, default=256)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--seconds", type=float, default=1.0, help="per size per round")
    p.add_argument(
        "--gan-artifact", type=Path, help="generator version directory (no GAN if unset)"
    )
    args = p.parse_args()
    result: dict = {"digits": digits(args.batches, args.rounds, args.seconds)}
    if args.gan_artifact:
        result["gan"] = gan(args.gan_artifact, args.chunks, args.count, args.rounds, args.seconds)
    json.dump(result, sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
