"""The ``kiln`` command: serve, plugins, models, train, evaluate."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from kiln.server import __version__
from kiln.server.artifacts import (
    new_version_dir,
    read_manifest,
    record_evaluation,
    versions_in,
    write_manifest,
)
from kiln.server.discovery import Catalog, DiscoveredModel, discover
from kiln.server.plugin import EvaluateContext, TrainContext
from kiln.server.registry import ModelEntry
from kiln.server.settings import KilnSettings

#: Where ``kiln train`` writes versions when no repository is given.
DEFAULT_REPOSITORY = Path("model-repository")


def _configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # JAX logs every accelerator backend it fails to find; that is noise on CPU hosts.
    logging.getLogger("jax._src.xla_bridge").setLevel(logging.WARNING)


def _progress(line: str) -> None:
    print(line, flush=True)


def _settings(args: argparse.Namespace) -> KilnSettings:
    overrides: dict[str, Any] = {}
    for name in ("host", "port", "model_repository", "max_message_bytes", "log_level"):
        value = getattr(args, name, None)
        if value is not None:
            overrides[name] = value
    if getattr(args, "block_plugin", None):
        overrides["block_plugins"] = args.block_plugin
    return KilnSettings(**overrides)


def _model(catalog: Catalog, name: str) -> DiscoveredModel:
    if name not in catalog.models:
        raise SystemExit(f"kiln: no model named {name!r}; known: {sorted(catalog.models)}")
    return catalog.models[name]


def cmd_serve(args: argparse.Namespace) -> int:
    from kiln.server.grpc.server import new_event_loop, serve_forever

    settings = _settings(args)
    _configure_logging(settings.log_level)
    with asyncio.Runner(loop_factory=lambda: new_event_loop(settings)) as runner:
        runner.run(serve_forever(settings))
    return 0


def cmd_plugins(args: argparse.Namespace) -> int:
    settings = _settings(args)
    catalog = discover(block=settings.block_plugins)
    if not catalog.plugins:
        print("no plugins found (entry-point group 'kiln')")
    for p in catalog.plugins:
        status = "blocked" if p.blocked else (f"ERROR {p.error}" if p.error else "ok")
        models = ", ".join(p.models) or "-"
        dist = f"{p.distribution or '-'} {p.version}".strip()
        print(f"{p.name:<14} {dist:<26} {status:<8} models: {models}")
    return 1 if any(p.error for p in catalog.plugins) else 0


def cmd_models(args: argparse.Namespace) -> int:
    settings = _settings(args)
    catalog = discover(block=settings.block_plugins)
    for name, found in catalog.models.items():
        spec = found.spec
        repo = settings.model_repository
        versions = versions_in(repo / name) if repo else []
        source = (
            f"repository versions {versions}" if versions else f"shipped {spec.default_artifact}"
        )
        print(f"{name:<12} {spec.description}  [{found.plugin.distribution}; {source}]")
        if args.verbose:
            # The entry the server would build, so its buckets and limits are the served ones.
            entry = ModelEntry(spec, found.plugin, settings.batching_for(name), versions=[])
            batching = entry.batching
            for t in spec.inputs:
                print(f"    input  {t.name}: {t.dtype} {list(t.shape)}")
            for t in spec.outputs:
                print(f"    output {t.name}: {t.dtype} {list(t.shape)}")
            print(
                f"    batching: buckets {list(entry.buckets)}, max batch {entry.max_batch_size}, "
                f"max queue delay {batching.max_queue_delay_us} us, "
                f"busy queue delay {batching.busy_queue_delay_us} us, "
                f"max queue {batching.max_queue_size}, generative {spec.generative}"
            )
    return 0


def _parse_overrides(pairs: list[str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep:
            raise SystemExit(f"kiln: --set expects key=value, got {pair!r}")
        try:
            values[key] = json.loads(raw)
        except json.JSONDecodeError:
            values[key] = raw
    return values


def cmd_train(args: argparse.Namespace) -> int:
    _configure_logging("WARNING")
    found = _model(discover(), args.model)
    spec = found.spec
    if spec.train is None:
        raise SystemExit(f"kiln: model {spec.name!r} has no training entry point")
    overrides = _parse_overrides(args.set or [])
    config = spec.config_model(**overrides) if spec.config_model else None
    version_dir = new_version_dir(Path(args.repository), spec.name)
    print(f"training {spec.name} -> {version_dir}", flush=True)
    started = time.perf_counter()
    try:
        result = spec.train(TrainContext(version_dir, config, _progress))
    except BaseException:
        for leftover in sorted(version_dir.rglob("*"), reverse=True):
            leftover.unlink() if leftover.is_file() else leftover.rmdir()
        version_dir.rmdir()
        raise
    manifest = write_manifest(version_dir, spec, found.plugin.distribution, result)
    elapsed = time.perf_counter() - started
    print(f"trained in {elapsed:.1f}s; metrics: {json.dumps(manifest['metrics'])}")
    print(f"wrote version {version_dir.name} of {spec.name} to {version_dir}")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    _configure_logging("WARNING")
    found = _model(discover(), args.model)
    spec = found.spec
    if spec.evaluate is None:
        raise SystemExit(f"kiln: model {spec.name!r} has no evaluation entry point")
    if args.repository:
        model_dir = Path(args.repository) / spec.name
        versions = versions_in(model_dir)
        if not versions:
            raise SystemExit(f"kiln: no versions of {spec.name!r} under {model_dir}")
        version = args.version or str(versions[-1])
        artifact = model_dir / version
    else:
        assert spec.default_artifact is not None
        artifact = spec.default_artifact
    report_dir = (
        Path(args.report_dir) if args.report_dir else Path(tempfile.mkdtemp(prefix="kiln-eval-"))
    )
    report_dir.mkdir(parents=True, exist_ok=True)
    print(f"evaluating {spec.name} from {artifact}", flush=True)
    result = spec.evaluate(EvaluateContext(artifact, report_dir, _progress))
    print(result.report)
    for path in result.files:
        print(f"wrote {path}")
    if args.repository and read_manifest(artifact):
        record_evaluation(artifact, result.metrics)
    return 0


def cmd_generate(args: argparse.Namespace) -> int:
    import io

    from PIL import Image

    from kiln.client import Client

    tiles = []
    with Client(args.address, timeout=args.timeout) as client:
        for chunk in client.generate(
            args.model, args.count, seed=args.seed, chunk_size=args.chunk_size, encodings=["png"]
        ):
            tiles += [Image.open(io.BytesIO(png)).convert("L") for png in chunk.png]
            print(f"chunk {chunk.index}: {chunk.done}/{chunk.total} samples", flush=True)
    columns = args.columns or max(1, round(len(tiles) ** 0.5))
    rows = -(-len(tiles) // columns)
    width, height = tiles[0].size
    grid = Image.new("L", (columns * width, rows * height))
    for i, tile in enumerate(tiles):
        grid.paste(tile, ((i % columns) * width, (i // columns) * height))
    grid.save(args.out)
    print(f"wrote {len(tiles)} samples as a {columns}x{rows} grid to {args.out}")
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    import numpy as np
    from PIL import Image

    from kiln.client import Client

    with Client(args.address, timeout=args.timeout) as client:
        (spec,) = client.get_model(args.model).inputs
        _, height, width, _ = spec.shape
        image = Image.open(args.image).convert("L").resize((width, height), Image.BILINEAR)
        pixels = np.asarray(image, dtype=np.float32) / 255.0
        if args.invert:
            pixels = 1.0 - pixels
        out = client.predict(args.model, {spec.name: pixels[None, :, :, None]})
    print(f"label {int(out['label'][0])}")
    for digit, p in enumerate(out["probabilities"][0]):
        print(f"  {digit}: {p:.4f}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``kiln`` command."""
    parser = argparse.ArgumentParser(prog="kiln", description="Kiln model server")
    parser.add_argument("--version", action="version", version=f"kiln {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="serve the models over gRPC")
    serve.add_argument("--host", help="address to bind (default 127.0.0.1; 0.0.0.0 for all)")
    serve.add_argument("--port", type=int, help="port (default 50051; 0 picks one)")
    serve.add_argument("--model-repository", type=Path, help="serve versions from this repository")
    serve.add_argument("--block-plugin", action="append", help="plugin not to load (repeatable)")
    serve.add_argument("--max-message-bytes", type=int, help="largest message accepted")
    serve.add_argument("--log-level", help="DEBUG, INFO, WARNING, ...")
    serve.set_defaults(func=cmd_serve)

    plugins = sub.add_parser("plugins", help="list discovered plugins and their errors")
    plugins.add_argument("--block-plugin", action="append")
    plugins.set_defaults(func=cmd_plugins)

    models = sub.add_parser("models", help="list the models the plugins provide")
    models.add_argument("--model-repository", type=Path)
    models.add_argument("--verbose", "-v", action="store_true", help="signatures and batching")
    models.set_defaults(func=cmd_models)

    train = sub.add_parser("train", help="train a model and write a new version")
    train.add_argument("model")
    train.add_argument("--repository", default=str(DEFAULT_REPOSITORY))
    train.add_argument("--set", action="append", metavar="KEY=VALUE", help="training config value")
    train.set_defaults(func=cmd_train)

    evaluate = sub.add_parser("evaluate", help="evaluate a model version")
    evaluate.add_argument("model")
    evaluate.add_argument("--repository", help="evaluate from this repository (default: shipped)")
    evaluate.add_argument("--version", help="version in the repository (default: newest)")
    evaluate.add_argument("--report-dir", help="where to write plots")
    evaluate.set_defaults(func=cmd_evaluate)

    generate = sub.add_parser("generate", help="stream samples from a running server to a PNG grid")
    generate.add_argument("model")
    generate.add_argument("--count", type=int, default=64)
    generate.add_argument("--seed", type=int, default=0)
    generate.add_argument("--chunk-size", type=int, default=0, help="0: the server chooses")
    generate.add_argument("--columns", type=int, help="grid width in samples (default: square)")
    generate.add_argument("--out", default="samples.png")
    generate.set_defaults(func=cmd_generate)

    predict = sub.add_parser("predict", help="classify an image file with a running server")
    predict.add_argument("model")
    predict.add_argument("--image", required=True, help="image file (any format Pillow reads)")
    predict.add_argument("--invert", action="store_true", help="dark digit on a light background")
    predict.set_defaults(func=cmd_predict)

    for client_command in (generate, predict):
        client_command.add_argument("--address", default="localhost:50051")
        client_command.add_argument("--timeout", type=float, default=60.0)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``kiln`` command."""
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
