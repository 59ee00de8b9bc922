"""Kiln's benchmark suite: limits, Kiln, MLServer; writes RESULTS.md, results.json, a plot.

Run it through ``bench/run`` (or ``make bench``), which also prepares MLServer's venv.
Every server is started here, bound to 127.0.0.1, one at a time; every load runs in a
separate process (`loadgen.py`) and is bounded in time and calls.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

import report
from servers import (
    BENCH,
    ROOT,
    MLServerVariant,
    RunningServer,
    kiln_batch_counts,
    mlserver_python,
    start_empty,
    start_kiln,
    start_mlserver,
)

#: MLServer configurations compared: its defaults (one inference worker process) with
#: adaptive batching off and on, and the fastest setting found on this machine
#: (inference in the server process, no batching).
MLSERVER_VARIANTS = (
    MLServerVariant("mlserver", max_batch_size=1, max_batch_time=0.0, parallel_workers=1),
    MLServerVariant(
        "mlserver-batching", max_batch_size=32, max_batch_time=0.002, parallel_workers=1
    ),
    MLServerVariant("mlserver-inproc", max_batch_size=1, max_batch_time=0.0, parallel_workers=0),
)


@dataclass(frozen=True)
class Plan:
    """How much to measure.

    Attributes:
        concurrencies: Closed-loop concurrencies for ``digits`` batch 1.
        gan_concurrencies: Concurrencies for GAN batch 16.
        chunks: Generate chunk sizes (Kiln streaming, and in-process).
        warmup: Seconds of load discarded before measuring.
        duration: Seconds per measured window.
        repeats: Measured windows per load (the median is reported).
        inprocess_rounds: Rounds of the in-process timing.
        inprocess_seconds: Seconds per size per in-process round.
    """

    concurrencies: tuple[int, ...] = (1, 8, 32, 128)
    gan_concurrencies: tuple[int, ...] = (1, 8, 32)
    chunks: tuple[int, ...] = (16, 32, 64, 128)
    generate_count: int = 256
    warmup: float = 1.0
    duration: float = 3.0
    repeats: int = 3
    inprocess_rounds: int = 3
    inprocess_seconds: float = 0.7
    batches: tuple[int, ...] = (1, 8, 32, 64)

    @property
    def load_seconds(self) -> float:
        """Wall time of one load run, excluding process start."""
        return self.warmup + self.repeats * self.duration


QUICK = Plan(
    concurrencies=(1, 32),
    gan_concurrencies=(8,),
    chunks=(16, 64),
    warmup=0.5,
    duration=1.5,
    repeats=2,
    inprocess_rounds=1,
    inprocess_seconds=0.3,
)


@dataclass
class Suite:
    """The run in progress and everything it has measured."""

    plan: Plan
    workdir: Path
    kiln_env: dict[str, str] = field(default_factory=dict)
    results: dict = field(default_factory=dict)

    def log(self, line: str) -> None:
        """Progress on stderr."""
        print(f"[{time.strftime('%H:%M:%S')}] {line}", file=sys.stderr, flush=True)

    def load(
        self,
        server: RunningServer,
        protocol: str,
        workload: str,
        concurrency: int,
        *,
        generate_chunk: int | None = None,
    ) -> dict | None:
        """One closed-loop load in a fresh loadgen process; records and returns its result."""
        plan = self.plan
        cmd = [
            sys.executable,
            str(BENCH / "loadgen.py"),
            "--address",
            server.address,
            "--concurrency",
            str(concurrency),
            "--warmup",
            str(plan.warmup),
            "--duration",
            str(plan.duration),
            "--repeats",
            str(plan.repeats),
            "--server-pids",
            str(server.pid),
        ]
        if generate_chunk is not None:
            cmd += ["--kind", "generate", "--count", str(plan.generate_count)]
            cmd += ["--chunk-size", str(generate_chunk)]
        else:
            cmd += ["--protocol", protocol, "--workload", workload]
        label = f"{server.name} {protocol} {workload} c={concurrency}"
        model = "digits" if workload.startswith("digits") else "digits-gan"
        counts = kiln_batch_counts(server.address, model) if server.name == "kiln" else None
        try:
            done = subprocess.run(
                cmd, capture_output=True, text=True, timeout=plan.load_seconds + 120
            )
        except subprocess.TimeoutExpired:
            self.log(f"{label}: TIMED OUT")
            self._failed(server, protocol, workload, concurrency, "timed out")
            return None
        if done.returncode != 0:
            tail = done.stderr.strip().splitlines()[-1:] or ["?"]
            self.log(f"{label}: FAILED {tail[0]}")
            self._failed(server, protocol, workload, concurrency, done.stderr[-2000:])
            return None
        result = json.loads(done.stdout)
        result["target"] = server.name
        result["median"] = _medians(result["windows"])
        after = kiln_batch_counts(server.address, model) if counts else None
        if counts and after and after[1] > counts[1]:
            # Items per model call over the whole load (warm-up included).
            result["avg_batch"] = (after[0] - counts[0]) / (after[1] - counts[1])
        self.results["runs"].append(result)
        m = result["median"]
        self.log(
            f"{label}: {m['rps']:.0f} rps, {m['samples_per_s']:.0f} samples/s, "
            f"p50 {m['p50_ms']:.2f} ms, p99 {m['p99_ms']:.2f} ms, "
            f"client {m['client_cpu_cores']:.2f} / server {m['server_cpu_cores']:.2f} cores"
            + (f", {m['errors']} errors" if m["errors"] else "")
            + (f", {result['avg_batch']:.1f} items/model call" if "avg_batch" in result else "")
        )
        return result

    def _failed(self, server, protocol, workload, concurrency, error: str) -> None:
        self.results["failures"].append(
            {
                "target": server.name,
                "protocol": protocol,
                "workload": workload,
                "concurrency": concurrency,
                "error": error,
            }
        )


def _medians(windows: list[dict]) -> dict:
    keys = [k for k, v in windows[0].items() if isinstance(v, int | float) or v is None]
    out = {}
    for key in keys:
        values = [w[key] for w in windows if w[key] is not None]
        out[key] = statistics.median(values) if values else None
    out["errors"] = sum(w["errors"] for w in windows)
    return out


@contextlib.contextmanager
def running(suite: Suite, server: RunningServer):
    """Record a server's start-up figures, yield it, then its memory after load, and stop it."""
    record = {
        "name": server.name,
        "address": server.address,
        "cold_start_s": server.cold_start_s,
        "listening_s": server.listening_s,
        "models": server.models,
        "memory_ready": asdict(server.memory_ready) if server.memory_ready else None,
    }
    suite.results["servers"][server.name] = record
    ready = record["memory_ready"]
    suite.log(
        f"{server.name} ready at {server.address} in {server.cold_start_s:.2f}s, "
        f"models {server.models}, RSS {ready['rss_mib']:.0f} MiB"
    )
    try:
        yield server
        record["memory_after_load"] = asdict(server.memory())
    finally:
        server.stop()


def gan_artifact(override: Path | None) -> tuple[Path | None, str]:
    """The generator weights Kiln serves by default (or None), and why there are none."""
    if override is not None:
        return override, ""
    from kiln.server.discovery import discover

    logging.disable(logging.CRITICAL)  # discovery logs a broken plugin's traceback
    try:
        catalog = discover()
    finally:
        logging.disable(logging.NOTSET)
    found = catalog.models.get("digits-gan")
    if found is None:
        errors = [f"{p.name}: {p.error}" for p in catalog.plugins if p.error]
        return None, "no digits-gan model" + (f" ({'; '.join(errors)})" if errors else "")
    candidate = found.spec.default_artifact
    if candidate is None or not any(candidate.glob("*.msgpack")):
        return None, f"digits-gan ships no weights in {candidate}"
    return candidate, ""


def inprocess(suite: Suite, gan: Path | None) -> None:
    """Model-only limits, in a separate process."""
    plan = suite.plan
    cmd = [
        sys.executable,
        str(BENCH / "inprocess.py"),
        "--rounds",
        str(plan.inprocess_rounds),
        "--seconds",
        str(plan.inprocess_seconds),
        "--batches",
        *map(str, plan.batches),
        "--chunks",
        *map(str, plan.chunks),
        "--count",
        str(plan.generate_count),
    ]
    if gan is not None:
        cmd += ["--gan-artifact", str(gan)]
    suite.log("in-process limits")
    done = subprocess.run(
        cmd, capture_output=True, text=True, timeout=600, env={**os.environ, "JAX_PLATFORMS": "cpu"}
    )
    if done.returncode != 0:
        raise RuntimeError(f"inprocess.py failed:\n{done.stderr[-3000:]}")
    suite.results["inprocess"] = json.loads(done.stdout)
    for row in suite.results["inprocess"]["digits"]:
        suite.log(f"  digits batch {row['batch']}: {row['ms_per_call']:.3f} ms/call")
    for row in suite.results["inprocess"].get("gan", {}).get("generate", []):
        suite.log(
            f"  gan chunk {row['chunk_size']}: {row['samples_per_s']:.0f} samples/s, "
            f"chunk {row['chunk_ms']:.2f} ms"
        )


def engine_limit(suite: Suite) -> None:
    """Kiln's servicers without gRPC's transport, in a separate process."""
    plan = suite.plan
    cmd = [
        sys.executable,
        str(BENCH / "engine_limit.py"),
        "--concurrency",
        "1",
        "32",
        "--warmup",
        str(plan.warmup),
        "--duration",
        str(plan.duration),
    ]
    suite.log("kiln without the network (engine_limit.py)")
    env = {**os.environ, "JAX_PLATFORMS": "cpu", **suite.kiln_env}
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)
    if done.returncode != 0:
        suite.log(f"engine_limit.py failed: {done.stderr.strip().splitlines()[-1:]}")
        return
    suite.results["engine_limit"] = json.loads(done.stdout)
    for row in suite.results["engine_limit"]:
        suite.log(
            f"  {row['protocol']} c={row['concurrency']}: {row['rps']:.0f} rps, "
            f"p50 {row['p50_ms']:.2f} ms, {row['cpu_us_per_call']:.0f} us CPU/call"
        )


def bench_empty(suite: Suite) -> None:
    """The empty-handler ceiling, both protocols."""
    with running(suite, start_empty(suite.workdir)) as server:
        for protocol in ("kiln.v1", "oip"):
            for c in suite.plan.concurrencies:
                suite.load(server, protocol, "digits-b1", c)


def bench_kiln(suite: Suite) -> None:
    """Kiln over kiln.v1 and OIP: digits, GAN batch 16, streaming generation."""
    plan = suite.plan
    with running(suite, start_kiln(suite.workdir, env=suite.kiln_env)) as server:
        for protocol in ("kiln.v1", "oip"):
            for c in plan.concurrencies:
                suite.load(server, protocol, "digits-b1", c)
        if "digits-gan" not in server.models:
            suite.log("kiln does not serve digits-gan: GAN loads skipped")
            return
        for protocol in ("kiln.v1", "oip"):
            for c in plan.gan_concurrencies:
                suite.load(server, protocol, "gan-b16", c)
        for chunk in plan.chunks:
            workload = f"gan-stream{plan.generate_count}-c{chunk}"
            suite.load(server, "kiln.v1", workload, 1, generate_chunk=chunk)
        suite.load(server, "oip", "gan-gen256", 1)


def bench_mlserver(suite: Suite, variant: MLServerVariant, gan: Path | None) -> None:
    """One MLServer variant over OIP: digits, GAN batch 16, all-at-once generation."""
    from kiln_classifier.artifacts import default_artifact_dir

    artifacts = {"digits": default_artifact_dir()}
    if gan is not None:
        artifacts["digits-gan"] = gan
    plan = suite.plan
    with running(suite, start_mlserver(suite.workdir, variant, artifacts)) as server:
        for c in plan.concurrencies:
            suite.load(server, "oip", "digits-b1", c)
        if gan is None:
            return
        for c in plan.gan_concurrencies:
            suite.load(server, "oip", "gan-b16", c)
        if variant.max_batch_size == 1:  # adaptive batching merges inputs; generation has none
            suite.load(server, "oip", "gan-gen256", 1)


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "-"


def environment(command: str) -> dict:
    """Versions, machine and command, for RESULTS.md."""
    git = subprocess.run(
        ["git", "-C", str(ROOT), "describe", "--always", "--dirty", "--abbrev=12"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    mls = subprocess.run(
        [
            str(mlserver_python()),
            "-c",
            "import importlib.metadata as m, json; print(json.dumps({d: m.version(d) for d in "
            "('mlserver', 'grpcio', 'protobuf', 'uvloop', 'jax', 'flax', 'numpy')}))",
        ],
        capture_output=True,
        text=True,
    )
    cpu = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "command": command,
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "git": git,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "affinity": len(os.sched_getaffinity(0)),
        "loadavg_start": os.getloadavg(),
        "kiln_side": {
            d: _version(d)
            for d in ("kiln-server", "grpcio", "protobuf", "jax", "jaxlib", "flax", "numpy")
        },
        "mlserver_side": json.loads(mls.stdout) if mls.returncode == 0 else {"error": mls.stderr},
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="smoke run (~3 min): fewer, shorter loads")
    p.add_argument("--out", type=Path, default=BENCH, help="where RESULTS.md etc. go")
    p.add_argument(
        "--only",
        nargs="+",
        choices=("inprocess", "empty", "kiln", "mlserver"),
        help="run only these parts (the report covers what ran)",
    )
    p.add_argument("--gan-artifact", type=Path, help="generator weights (default: kiln-gan's)")
    p.add_argument(
        "--kiln-env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="environment for kiln serve, e.g. KILN_BATCHING__MAX_QUEUE_DELAY_US=0",
    )
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the suite and write the report."""
    args = parse_args(argv)
    plan = QUICK if args.quick else Plan()
    parts = set(args.only or ("inprocess", "empty", "kiln", "mlserver"))
    kiln_env = dict(pair.split("=", 1) for pair in args.kiln_env)
    command = "bench/run" + "".join(f" {a}" for a in (argv if argv is not None else sys.argv[1:]))
    workdir = Path(tempfile.mkdtemp(prefix="kiln-bench-"))
    suite = Suite(plan, workdir, kiln_env)
    suite.results = {
        "environment": environment(command),
        "plan": {**asdict(plan), "quick": args.quick, "kiln_env": kiln_env},
        "inprocess": None,
        "servers": {},
        "runs": [],
        "failures": [],
    }
    gan, why_not = gan_artifact(args.gan_artifact)
    suite.results["plan"]["gan_artifact"] = str(gan) if gan else None
    suite.results["plan"]["gan_missing"] = why_not
    suite.log(f"plan: {'quick' if args.quick else 'full'}; logs in {workdir}")
    suite.log(f"GAN weights: {gan}" if gan else f"GAN skipped: {why_not}")
    started = time.perf_counter()
    steps = []
    if "inprocess" in parts:
        steps += [("in-process limits", lambda: inprocess(suite, gan))]
        steps += [("kiln without the network", lambda: engine_limit(suite))]
    if "empty" in parts:
        steps += [("empty handler", lambda: bench_empty(suite))]
    if "kiln" in parts:
        steps += [("kiln", lambda: bench_kiln(suite))]
    if "mlserver" in parts:
        steps += [
            (variant.name, lambda variant=variant: bench_mlserver(suite, variant, gan))
            for variant in MLSERVER_VARIANTS
        ]
    try:
        for name, step in steps:
            try:
                step()
            except Exception as err:  # one broken part must not cost the rest of the run
                suite.log(f"{name} FAILED: {type(err).__name__}: {err}")
                suite.results["failures"].append(
                    {
                        "target": name,
                        "protocol": "-",
                        "workload": "-",
                        "concurrency": "-",
                        "error": f"{type(err).__name__}: {err}",
                    }
                )
    finally:
        env = suite.results["environment"]
        env["loadavg_end"] = os.getloadavg()
        env["elapsed_s"] = time.perf_counter() - started
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "results.json").write_text(json.dumps(suite.results, indent=1))
        report.write(suite.results, args.out)
        suite.log(f"wrote {args.out / 'RESULTS.md'} in {env['elapsed_s'] / 60:.1f} min")
    return 1 if suite.results["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
