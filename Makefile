# The two commands a fresh machine needs:  `make serve`  and  `make test`.
.PHONY: serve test test-quick lint format generate sdk-scenarios bootstrap bench

bootstrap:
	scripts/bootstrap

serve: bootstrap  ## install, then serve the built-in models on 127.0.0.1:50051
	.venv/bin/kiln serve

test:  ## everything CI runs: lint, generated-code drift, all test suites, SDK scenarios
	scripts/test

test-quick: bootstrap  ## the inner loop: Python tests without the slow (training) suites
	.venv/bin/pytest -m "not slow" -q

lint: bootstrap
	.venv/bin/ruff check . && .venv/bin/ruff format --check .

format: bootstrap
	.venv/bin/ruff check --fix . && .venv/bin/ruff format .

generate: bootstrap  ## regenerate every language's code from protos/
	scripts/generate

sdk-scenarios: bootstrap  ## one real server, the same scenarios from every client language
	scripts/sdk-scenarios

bench: bootstrap  ## benchmark suite (~13 min; bench/run --quick ~3 min) -> bench/RESULTS.md
	bench/run
