# Task entry points. `make demo` and `make test` do all set-up on a fresh machine.
UV := UV_PYTHON_DOWNLOADS=never uv run --frozen
SRC := src tests bench
DEMO_ARGS ?= --duration 30
BENCH_ARGS ?=
IMAGE ?=# empty: the project version's image (metadata.RELEASE_IMAGE)
MANIFEST ?= manifest.yaml

.PHONY: setup demo test test-fast e2e lint check-generated gen-proto docs bench harness-info ci manifest

setup:
	scripts/setup

demo: setup  ## stream WAL from a throwaway local PostgreSQL (no Kubernetes needed)
	$(UV) cnpg-wal-replica demo $(DEMO_ARGS)

test: ## everything CI runs: lint, generated files, all tests (PostgreSQL, gRPC, Kubernetes)
	scripts/setup --tests
	$(MAKE) lint check-generated
	CI=$${CI:-} $(UV) pytest

e2e: ## the single-node Kubernetes with the real CNPG operator (root): tests/e2e only
	scripts/setup --tests
	CI=$${CI:-} $(UV) pytest tests/e2e

test-fast: ## unit tests only
	$(UV) pytest tests/unit

lint:
	$(UV) ruff check .
	$(UV) ruff format --check src
	$(UV) mypy
	$(UV) lint-imports

check-generated:
	scripts/gen-proto --check
	$(UV) python scripts/gen-docs --check
	$(UV) python scripts/gen-monitoring --check

gen-proto:
	scripts/gen-proto

docs:
	$(UV) python scripts/gen-docs
	$(UV) python scripts/gen-monitoring

manifest: ## the release manifest: deploy/ with IMAGE set everywhere, for kubectl apply -f
	$(UV) python scripts/release_manifest.py $(if $(IMAGE),--image $(IMAGE)) --output $(MANIFEST)

bench: setup
	scripts/kube-harness build
	$(UV) python bench/run.py $(BENCH_ARGS)

harness-info:
	scripts/kube-harness info

ci: test
