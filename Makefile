# mqtt-replay — `make help` lists the targets. The two a newcomer needs: `make run`, `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMPS := .stamps
export CARGO_TARGET_DIR ?= $(HOME)/.cache/mqtt-replay/target
DEMO := mqtt-data/sessions/demo-factory_20260115_100000.log
RUST_SOURCES := $(shell find rust -name '*.rs' -o -name 'Cargo.toml' 2>/dev/null) Cargo.toml
APT_RUN := mosquitto mosquitto-clients
APT_TEST := $(APT_RUN) chromium chromium-driver

.PHONY: help setup run test test-fast lint fmt bench demo system-deps system-deps-test clean

help: ## list the targets
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN{FS=":.*?## "}{printf "  \033[1m%-16s\033[0m %s\n", $$1, $$2}'

system-deps: ## install Mosquitto with apt-get if it is missing
	@bash .ci/system-deps.sh $(APT_RUN)

system-deps-test: ## install Mosquitto and Chromium (+ driver) with apt-get if missing
	@bash .ci/system-deps.sh $(APT_TEST)

$(STAMPS)/venv: pyproject.toml
	@mkdir -p $(STAMPS)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -c 'import tomllib; p = tomllib.load(open("pyproject.toml", "rb"))["project"]; \
	  extra = p["optional-dependencies"]; \
	  print("\n".join(p["dependencies"] + extra["apps"] + extra["test"] + extra["dev"] + extra["bench"] + extra["locust"]))' \
	  > $(STAMPS)/requirements.txt
	$(PY) -m pip install --quiet -r $(STAMPS)/requirements.txt
	@touch $@

$(STAMPS)/build: $(STAMPS)/venv $(RUST_SOURCES) pyproject.toml
	rm -f python/mqtt_replay/_core*.so
	$(VENV)/bin/maturin develop --release --quiet
	@# the checkout's `apps` (shipped inside the wheel) importable from any directory
	$(PY) -c 'import pathlib, sysconfig; pathlib.Path(sysconfig.get_path("purelib"), "mqtt_replay_apps.pth").write_text(str(pathlib.Path.cwd()) + "\n")'
	@touch $@

setup: system-deps $(STAMPS)/build ## virtualenv, Python deps, release build of the Rust core

demo: $(STAMPS)/build ## generate the bundled demo session (deterministic)
	@test -f $(DEMO) || $(PY) -m mqtt_replay.cli generate $(DEMO) --messages 6000 --rate 20 --seed 7 -q

run: setup demo ## start the broker (if none on :1883) and both apps on the demo session
	$(PY) -m mqtt_replay.cli serve --session $(DEMO)

lint: $(STAMPS)/build ## ruff, mypy --strict, stubtest, cargo fmt --check, clippy -D warnings
	$(VENV)/bin/ruff check python apps tests benchmarks
	$(VENV)/bin/ruff format --check python apps tests benchmarks
	$(VENV)/bin/mypy
	$(PY) -m mypy.stubtest mqtt_replay._core
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets --release -- -D warnings

fmt: ## format Rust and Python sources
	cargo fmt --all
	$(VENV)/bin/ruff format python apps tests benchmarks
	$(VENV)/bin/ruff check --fix python apps tests benchmarks

test: system-deps-test $(STAMPS)/build lint ## everything: lint, cargo tests, pytest incl. broker and browser tests
	cargo test --workspace --release
	$(PY) -m pytest

test-fast: $(STAMPS)/build ## pytest without browser tests
	$(PY) -m pytest -m "not e2e"

bench: $(STAMPS)/build ## benchmarks against peers (generates large inputs under benchmarks/data)
	$(PY) benchmarks/run.py

clean: ## remove build products and stamps (keeps the virtualenv)
	rm -rf $(STAMPS) python/mqtt_replay/_core*.so .pytest_cache .mypy_cache .ruff_cache
