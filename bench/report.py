"""Turns results.json into RESULTS.md (tables, targets) and throughput.png."""

from __future__ import annotations

from pathlib import Path

#: Label of each target in tables and the plot.
EMPTY, KILN = "empty", "kiln"
#: MLServer variants run with MLServer's default process model (one inference worker).
DEFAULT_MLSERVER = ("mlserver", "mlserver-batching")


def _is_mlserver(name: str) -> bool:
    return name.startswith("mlserver")


def _run(results: dict, target: str, protocol: str, workload: str, concurrency: int):
    for run in results["runs"]:
        if (
            run["target"] == target
            and run["protocol"] == protocol
            and run["workload"] == workload
            and run["concurrency"] == concurrency
        ):
            return run["median"]
    return None


def _mlserver_runs(results: dict, workload: str, concurrency: int) -> dict[str, dict]:
    return {
        run["target"]: run["median"]
        for run in results["runs"]
        if _is_mlserver(run["target"])
        and run["workload"] == workload
        and run["concurrency"] == concurrency
    }


def _fmt(value, digits: int = 2) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return str(value)


def _table(headers: list[str], rows: list[list]) -> str:
    lines = [
        "| " + " | ".join(headers) + " |",
        "|" + "|".join(":---" if i == 0 else "---:" for i in range(len(headers))) + "|",
    ]
    lines += ["| " + " | ".join(_fmt(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _target(name, goal, measured, ratio, ok, detail="") -> dict:
    status = "n/a" if ratio is None else "PASS" if ok(ratio) else "MISS"
    return {
        "target": name,
        "goal": goal,
        "measured": measured,
        "ratio": ratio,
        "status": status,
        "detail": detail,
    }


def targets(results: dict) -> list[dict]:
    """Each target of the issue: goal, what was measured, ratio, PASS/MISS/n/a."""
    out = []
    for protocol in ("oip", "kiln.v1"):
        kiln = _run(results, KILN, protocol, "digits-b1", 32)
        mls = _mlserver_runs(results, "digits-b1", 32)
        best_name, best = max(mls.items(), key=lambda kv: kv[1]["rps"], default=(None, None))
        ratio = kiln["rps"] / best["rps"] if kiln and best else None
        defaults = [m["rps"] for name, m in mls.items() if name in DEFAULT_MLSERVER]
        note = (
            f"; {kiln['rps'] / max(defaults):.2f}x MLServer's default process model"
            if kiln and defaults
            else ""
        )
        out.append(
            _target(
                f"digits b1 c32 {protocol}: rps vs best MLServer",
                ">= 2.5x",
                f"{_fmt(kiln and kiln['rps'], 0)} vs {_fmt(best and best['rps'], 0)} "
                f"({best_name}){note}",
                ratio,
                lambda r: r >= 2.5,
            )
        )
        empty = _run(results, EMPTY, protocol, "digits-b1", 32)
        ratio = kiln["rps"] / empty["rps"] if kiln and empty else None
        out.append(
            _target(
                f"digits b1 c32 {protocol}: rps vs empty handler",
                ">= 75 %",
                f"{_fmt(kiln and kiln['rps'], 0)} vs {_fmt(empty and empty['rps'], 0)}",
                ratio,
                lambda r: r >= 0.75,
            )
        )
        ratio = kiln["p99_ms"] / best["p99_ms"] if kiln and best else None
        out.append(
            _target(
                f"digits b1 c32 {protocol}: p99 vs that MLServer",
                "<= 0.5x",
                f"{_fmt(kiln and kiln['p99_ms'])} vs {_fmt(best and best['p99_ms'])} ms",
                ratio,
                lambda r: r <= 0.5,
            )
        )
        kiln1 = _run(results, KILN, protocol, "digits-b1", 1)
        mls1 = _mlserver_runs(results, "digits-b1", 1)
        low_name, low = min(mls1.items(), key=lambda kv: kv[1]["p50_ms"], default=(None, None))
        ratio = kiln1["p50_ms"] / low["p50_ms"] if kiln1 and low else None
        out.append(
            _target(
                f"digits b1 c1 {protocol}: p50 vs best MLServer",
                "<= 1.0x",
                f"{_fmt(kiln1 and kiln1['p50_ms'])} vs {_fmt(low and low['p50_ms'])} ms "
                f"({low_name})",
                ratio,
                lambda r: r <= 1.0,
            )
        )
    out += _gan_targets(results)
    out += _startup_targets(results)
    return out


def _gan_targets(results: dict) -> list[dict]:
    generate = ((results.get("inprocess") or {}).get("gan") or {}).get("generate", [])
    streams = {
        run["workload"]: run["median"]
        for run in results["runs"]
        if run["target"] == KILN and run["kind"] == "generate" and run["concurrency"] == 1
    }
    best_in = max(generate, key=lambda r: r["samples_per_s"], default=None)
    by_chunk = {r["chunk_size"]: r for r in generate}
    best_stream = None
    for workload, median in streams.items():
        chunk = int(workload.rsplit("-c", 1)[1])
        if best_stream is None or median["samples_per_s"] > best_stream[1]["samples_per_s"]:
            best_stream = (chunk, median)
    ratio = (
        best_stream[1]["samples_per_s"] / best_in["samples_per_s"]
        if best_stream and best_in
        else None
    )
    out = [
        _target(
            "GAN Generate 256: samples/s vs in-process (best chunk each)",
            ">= 85 %",
            f"{_fmt(best_stream and best_stream[1]['samples_per_s'], 0)} (chunk "
            f"{best_stream and best_stream[0]}) vs {_fmt(best_in and best_in['samples_per_s'], 0)}"
            f" (chunk {best_in and best_in['chunk_size']})",
            ratio,
            lambda r: r >= 0.85,
        )
    ]
    chunk_row = by_chunk.get(best_stream[0]) if best_stream else None
    ratio = (
        best_stream[1]["first_chunk_p50_ms"] / chunk_row["chunk_ms"]
        if best_stream and chunk_row
        else None
    )
    out.append(
        _target(
            "GAN Generate 256: time to first chunk vs one chunk's compute",
            "<= 2.0x",
            f"{_fmt(best_stream and best_stream[1]['first_chunk_p50_ms'])} vs "
            f"{_fmt(chunk_row and chunk_row['chunk_ms'])} ms (chunk "
            f"{best_stream and best_stream[0]})",
            ratio,
            lambda r: r <= 2.0,
        )
    )
    return out


def _startup_targets(results: dict) -> list[dict]:
    servers = results["servers"]
    kiln = servers.get(KILN)
    mls = {n: s for n, s in servers.items() if _is_mlserver(n)}
    out = []
    fast_name, fast = min(mls.items(), key=lambda kv: kv[1]["cold_start_s"], default=(None, None))
    ratio = kiln["cold_start_s"] / fast["cold_start_s"] if kiln and fast else None
    out.append(
        _target(
            "cold start to SERVING vs MLServer (fastest variant)",
            "<= 1.5x",
            f"{_fmt(kiln and kiln['cold_start_s'])} vs {_fmt(fast and fast['cold_start_s'])} s "
            f"({fast_name})",
            ratio,
            lambda r: r <= 1.5,
        )
    )
    small_name, small = min(
        mls.items(), key=lambda kv: kv[1]["memory_ready"]["rss_mib"], default=(None, None)
    )
    k_rss = kiln and kiln["memory_ready"]["rss_mib"]
    m_rss = small and small["memory_ready"]["rss_mib"]
    out.append(
        _target(
            "RSS, models loaded, vs MLServer (smallest variant)",
            "<= 1.5x",
            f"{_fmt(k_rss, 0)} vs {_fmt(m_rss, 0)} MiB ({small_name})",
            k_rss / m_rss if kiln and small else None,
            lambda r: r <= 1.5,
        )
    )
    return out


def _load_rows(results: dict, workload: str) -> list[list]:
    rows = []
    runs = [r for r in results["runs"] if r["workload"] == workload]
    for run in sorted(runs, key=lambda r: (r["target"], r["protocol"], r["concurrency"])):
        m = run["median"]
        rows.append(
            [
                run["target"],
                run["protocol"],
                run["concurrency"],
                m["rps"],
                m["samples_per_s"],
                m["p50_ms"],
                m["p99_ms"],
                m["client_cpu_cores"],
                m["server_cpu_cores"],
                m["errors"],
                run.get("avg_batch"),
                f"{run['request_bytes']}/{run.get('response_bytes', '-')}",
            ]
        )
    return rows


LOAD_HEADERS = [
    "target",
    "protocol",
    "conc.",
    "req/s",
    "samples/s",
    "p50 ms",
    "p99 ms",
    "client CPU",
    "server CPU",
    "errors",
    "items/model call",
    "bytes in/out",
]


def markdown(results: dict) -> str:
    """The whole RESULTS.md."""
    env = results["environment"]
    plan = results["plan"]
    busy = env["loadavg_start"][0] > 0.5 * env["cpus"]
    parts = [
        "# Kiln benchmark results",
        "",
        "Generated by `bench/suite.py`; do not edit by hand. How to run: `bench/README.md`.",
        "",
        f"- Command: `{env['command']}` ({'quick smoke run' if plan['quick'] else 'full run'},"
        f" {env['elapsed_s'] / 60:.1f} min)",
        f"- Started: {env['started']}, git `{env['git']}`",
        f"- Machine: {env['cpu']}, {env['cpus']} CPUs ({env['affinity']} usable), "
        f"{env['platform']}, Python {env['python']}",
        f"- Load average at start / end: {env['loadavg_start'][0]:.2f} / "
        f"{env.get('loadavg_end', [0])[0]:.2f}",
        "- Kiln side: " + ", ".join(f"{k} {v}" for k, v in env["kiln_side"].items()),
        "- MLServer side (bench/.venv-mlserver): "
        + ", ".join(f"{k} {v}" for k, v in env["mlserver_side"].items()),
        f"- Load: closed loop, warm-up {plan['warmup']} s discarded, {plan['repeats']} windows of "
        f"{plan['duration']} s, medians of the windows. Client and servers share the machine.",
        f"- Kiln settings: defaults{' + ' + str(plan['kiln_env']) if plan['kiln_env'] else ''};"
        f" GAN weights: `{plan.get('gan_artifact')}`"
        + (f" (GAN parts skipped: {plan['gan_missing']})" if plan.get("gan_missing") else ""),
    ]
    if busy:
        parts += [
            "",
            f"> **The machine was busy** (load average {env['loadavg_start'][0]:.1f} on "
            f"{env['cpus']} CPUs at start): absolute numbers and ratios are noisy. Re-run on a "
            "quiet machine before drawing conclusions.",
        ]
    parts += ["", "## Targets", ""]
    rows = [
        [t["target"], t["goal"], t["measured"], _fmt(t["ratio"], 3), t["status"]]
        for t in targets(results)
    ]
    parts.append(_table(["target", "goal", "measured", "ratio", "status"], rows))
    parts += _limits_section(results)
    parts += _engine_section(results)
    parts += _cpu_section(results)
    parts += _servers_section(results)
    for workload, title in (
        ("digits-b1", "`digits`, batch 1"),
        ("gan-b16", "`digits-gan` Predict, batch 16"),
        ("gan-gen256", "`digits-gan`, 256 samples in one OIP ModelInfer (no streaming)"),
    ):
        rows = _load_rows(results, workload)
        if rows:
            parts += ["", f"## {title}", "", _table(LOAD_HEADERS, rows)]
    parts += _stream_section(results)
    parts += [
        "",
        "Columns: CPU in cores (CPU seconds per wall second; 1.00 = one core busy). The client",
        "is one Python process; a client near 1.00 core is itself the bottleneck. Bytes: one",
        "request / one response on the wire (protobuf), identical for Kiln and the empty handler.",
        "Items/model call: Kiln's average batch (OIP ModelStatistics, warm-up included).",
        "",
        "![throughput and p99 against concurrency](throughput.png)",
    ]
    if results["failures"]:
        parts += ["", "## Failures", ""]
        for f in results["failures"]:
            error = f["error"].strip().splitlines()[-1:] or ["?"]
            parts.append(
                f"- {f['target']} {f['protocol']} {f['workload']} c={f['concurrency']}: {error[0]}"
            )
    return "\n".join(parts) + "\n"


def _limits_section(results: dict) -> list[str]:
    limits = results.get("inprocess")
    if not limits:
        return []
    parts = ["", "## Limits: the models in-process (jitted, numpy in/out)", ""]
    rows = [
        [r["batch"], r["ms_per_call"], r["calls_per_s"], r["samples_per_s"]]
        for r in limits["digits"]
    ]
    parts.append(_table(["digits batch", "ms/call", "calls/s", "samples/s"], rows))
    gan = limits.get("gan")
    if gan:
        p = gan["predict_b16"]
        parts += [
            "",
            f"`digits-gan` predict, batch 16: {p['ms_per_call']:.3f} ms/call, "
            f"{p['samples_per_s']:,.0f} samples/s.",
            "",
        ]
        rows = [
            [
                r["chunk_size"],
                r["samples_per_s"],
                r["ms_per_stream"],
                r["first_chunk_ms"],
                r["chunk_ms"],
            ]
            for r in gan["generate"]
        ]
        parts.append(
            _table(
                ["GAN chunk", "samples/s (256)", "ms/256 samples", "first chunk ms", "chunk ms"],
                rows,
            )
        )
    return parts


def _engine_section(results: dict) -> list[str]:
    rows = [
        [
            r["protocol"],
            r["concurrency"],
            r["rps"],
            r["p50_ms"],
            r["p99_ms"],
            r["cpu_cores"],
            r["cpu_us_per_call"],
        ]
        for r in results.get("engine_limit") or []
    ]
    if not rows:
        return []
    headers = ["protocol", "conc.", "req/s", "p50 ms", "p99 ms", "CPU", "CPU us/call"]
    return [
        "",
        "## Limits: Kiln without the network (`digits` batch 1)",
        "",
        "Kiln's servicers called in-process (`engine_limit.py`): request bytes parsed,",
        "validated, batched, run on the worker thread, response serialized; no gRPC transport.",
        "",
        _table(headers, rows),
    ]


def _per_request(median: dict, cpu_key: str) -> float | None:
    """CPU microseconds per request."""
    return median[cpu_key] / median["rps"] * 1e6 if median["rps"] else None


def _cpu_section(results: dict) -> list[str]:
    """Server CPU per request at concurrency 32: gRPC alone, Kiln, Kiln minus the network."""
    rows = []
    engine = {(r["protocol"], r["concurrency"]): r for r in results.get("engine_limit") or []}
    model = {r["batch"]: r for r in (results.get("inprocess") or {}).get("digits", [])}
    for protocol in ("kiln.v1", "oip"):
        empty = _run(results, EMPTY, protocol, "digits-b1", 32)
        kiln = _run(results, KILN, protocol, "digits-b1", 32)
        if not (empty and kiln):
            continue
        inproc = engine.get((protocol, 32))
        rows.append(
            [
                protocol,
                _per_request(empty, "server_cpu_cores"),
                _per_request(kiln, "server_cpu_cores"),
                inproc and inproc["cpu_us_per_call"],
                model.get(1) and model[1]["ms_per_call"] * 1e3,
                model.get(8) and model[8]["ms_per_call"] * 1e3 / 8,
                _per_request(kiln, "client_cpu_cores"),
            ]
        )
    if not rows:
        return []
    headers = [
        "protocol",
        "empty handler",
        "Kiln",
        "Kiln without network",
        "model b1 (wall)",
        "model per item at b8",
        "client, per Kiln call",
    ]
    return [
        "",
        "## Where a request's CPU goes (microseconds per request, concurrency 32)",
        "",
        "Server CPU (all threads) divided by requests served. Kiln minus the empty handler is",
        "what Kiln adds to a bare gRPC call; compare it with the model's own cost per item.",
        "",
        _table(headers, rows),
    ]


def _servers_section(results: dict) -> list[str]:
    rows = []
    for name, s in results["servers"].items():
        ready = s["memory_ready"]
        after = s.get("memory_after_load") or {}
        rows.append(
            [
                name,
                ", ".join(s["models"]) or "-",
                s["cold_start_s"],
                s["listening_s"],
                ready["rss_mib"],
                ready["pss_mib"],
                after.get("rss_mib"),
                ready["processes"],
            ]
        )
    if not rows:
        return []
    headers = [
        "server",
        "models",
        "cold start s",
        "port bound s",
        "RSS MiB",
        "PSS MiB",
        "RSS after load",
        "processes",
    ]
    return [
        "",
        "## Start-up and memory",
        "",
        "Cold start: process spawn until ready (Kiln: gRPC health SERVING; MLServer: OIP",
        "ServerReady and ModelReady for every model). Memory summed over the process tree.",
        "",
        _table(headers, rows),
    ]


def _stream_section(results: dict) -> list[str]:
    runs = [r for r in results["runs"] if r["kind"] == "generate"]
    if not runs:
        return []
    generate = ((results.get("inprocess") or {}).get("gan") or {}).get("generate", [])
    by_chunk = {r["chunk_size"]: r for r in generate}
    rows = []
    for run in sorted(runs, key=lambda r: (r["concurrency"], r["workload"])):
        chunk = int(run["workload"].rsplit("-c", 1)[1])
        m = run["median"]
        inproc = by_chunk.get(chunk)
        rows.append(
            [
                chunk,
                run["concurrency"],
                m["samples_per_s"],
                m["samples_per_s"] / inproc["samples_per_s"] if inproc else None,
                m["first_chunk_p50_ms"],
                m["first_chunk_p99_ms"],
                inproc and inproc["chunk_ms"],
                m["p50_ms"],
                run.get("first_call_ms"),
                m["client_cpu_cores"],
                m["server_cpu_cores"],
            ]
        )
    headers = [
        "chunk",
        "conc.",
        "samples/s",
        "vs in-process",
        "first chunk p50 ms",
        "first chunk p99 ms",
        "in-process chunk ms",
        "stream p50 ms",
        "first stream ever ms",
        "client CPU",
        "server CPU",
    ]
    return [
        "",
        "## `digits-gan` streaming Generate of 256 samples (kiln.v1)",
        "",
        "First stream ever: the untimed probe sent before each load; far above the stream p50",
        "it means work (e.g. compiling that chunk size) happened on the request path.",
        "",
        _table(headers, rows),
    ]


def plot(results: dict, path: Path) -> None:
    """Throughput and p99 against concurrency, for digits b1 and GAN b16."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(12, 8))
    for row, (workload, unit) in enumerate((("digits-b1", "req/s"), ("gan-b16", "samples/s"))):
        series: dict[str, list[tuple[int, dict]]] = {}
        for run in results["runs"]:
            if run["workload"] == workload:
                key = f"{run['target']} ({run['protocol']})"
                series.setdefault(key, []).append((run["concurrency"], run["median"]))
        for key, points in sorted(series.items()):
            points.sort(key=lambda p: p[0])
            xs = [p[0] for p in points]
            style = "--" if key.startswith(EMPTY) else ("-" if key.startswith(KILN) else ":")
            metric = "rps" if unit == "req/s" else "samples_per_s"
            axes[row][0].plot(xs, [p[1][metric] for p in points], style, marker="o", label=key)
            axes[row][1].plot(xs, [p[1]["p99_ms"] for p in points], style, marker="o", label=key)
        for col, ylabel in enumerate((unit, "p99 latency (ms)")):
            ax = axes[row][col]
            ax.set_xscale("log", base=2)
            ax.set_xlabel("concurrency (in-flight calls)")
            ax.set_ylabel(ylabel)
            ax.set_title(f"{workload}: {'throughput' if col == 0 else 'p99'}")
            if col == 1:
                ax.set_yscale("log")
            ax.grid(True, alpha=0.3)
            if series:
                ax.legend(fontsize=7)
            else:
                ax.text(0.5, 0.5, "not measured", ha="center", transform=ax.transAxes)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


HEADLINE_START = "<!-- headline:start (written by bench/report.py) -->"
HEADLINE_END = "<!-- headline:end -->"


def headline(results: dict) -> str:
    """The targets as a short Markdown block (for README.md)."""
    env = results["environment"]
    plan = "quick smoke run" if results["plan"]["quick"] else "full run"
    lines = [
        f"Latest: {plan} of `{env['command']}` at {env['started']} (git `{env['git']}`, "
        f"load average {env['loadavg_start'][0]:.1f} on {env['cpus']} CPUs). "
        "Details: [RESULTS.md](RESULTS.md).",
        "",
        _table(
            ["target", "goal", "ratio", "status"],
            [[t["target"], t["goal"], _fmt(t["ratio"], 3), t["status"]] for t in targets(results)],
        ),
    ]
    return "\n".join(lines)


def update_readme(readme: Path, results: dict) -> None:
    """Replace the block between the headline markers in `readme`, if it has them."""
    if not readme.exists():
        return
    text = readme.read_text()
    start, end = text.find(HEADLINE_START), text.find(HEADLINE_END)
    if start < 0 or end < start:
        return
    block = f"{HEADLINE_START}\n{headline(results)}\n{HEADLINE_END}"
    readme.write_text(text[:start] + block + text[end + len(HEADLINE_END) :])


def write(results: dict, out: Path) -> None:
    """Write RESULTS.md and throughput.png into `out`, and the headline into its README."""
    (out / "RESULTS.md").write_text(markdown(results))
    plot(results, out / "throughput.png")
    update_readme(out / "README.md", results)
