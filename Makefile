# kapfast developer tasks. `make test` is what CI runs (.ci/run): it installs everything the tests
# need on a fresh machine (Python deps in .venv, the Debian influxdb package), builds the extension
# and runs every check.

SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
export VIRTUAL_ENV := $(abspath $(VENV))
export PATH := $(abspath $(VENV))/bin:$(PATH)
# cargo test links libpython; make sure the loader finds the same one maturin builds against.
PYLIBDIR := $(shell $(PYTHON) -c 'import sysconfig; print(sysconfig.get_config_var("LIBDIR") or "")')
export LD_LIBRARY_PATH := $(PYLIBDIR):$(LD_LIBRARY_PATH)
export PYO3_PYTHON := $(abspath $(PY))

.PHONY: help deps system-deps dev build test test-rust lint lint-rust lint-python stubtest pytest \
        conformance soak bench fuzz fmt clean

help: ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

$(VENV)/.deps: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PYTHON) scripts/deps.py dev | $(PY) -m pip install -q -r /dev/stdin
	touch $@

deps: $(VENV)/.deps ## Python dependencies in .venv

system-deps: ## Debian packages the integration tests start: influxdb (InfluxDB 1.x), mosquitto, snmptrapd, nats-server, chromium (+ its driver)
	@command -v influxd >/dev/null 2>&1 || { \
	    (apt-get update -qq || true) && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq influxdb >/dev/null; }
	@command -v influxd >/dev/null 2>&1 && echo "influxd: $$(command -v influxd)"
	@PATH="$$PATH:/usr/sbin" command -v mosquitto >/dev/null 2>&1 || { \
	    (apt-get update -qq || true) && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mosquitto >/dev/null; }
	@PATH="$$PATH:/usr/sbin" command -v snmptrapd >/dev/null 2>&1 || { \
	    (apt-get update -qq || true) && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq snmptrapd >/dev/null; }
	@command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1 || { \
	    (apt-get update -qq || true) && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; }
	@PATH="$$PATH:/usr/sbin" command -v nats-server >/dev/null 2>&1 || { \
	    (apt-get update -qq || true) && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nats-server >/dev/null; }

dev: deps ## build the extension (release) into .venv, editable
	$(VENV)/bin/maturin develop --release -q

test-rust: ## cargo test
	cargo test -q

lint-rust: ## cargo fmt --check and clippy -D warnings
	cargo fmt --check
	cargo clippy -q --all-targets -- -D warnings

lint-python: deps ## ruff and mypy
	$(VENV)/bin/ruff check python tests benches
	$(VENV)/bin/ruff format --check python tests benches
	$(VENV)/bin/mypy python/kapfast

stubtest: dev ## check python/kapfast/_native.pyi against the built extension
	$(PY) -m mypy.stubtest kapfast._native --allowlist .stubtest-allowlist

pytest: dev ## the Python test-suite
	$(PY) -m pytest -q

test: deps system-deps dev test-rust lint-rust lint-python stubtest pytest ## everything CI runs

SOAK_SECONDS ?= 20
soak: dev ## long load/fault runs of tests/reliability (KAPFAST_SOAK_SECONDS each), figures printed
	KAPFAST_SOAK_SECONDS=$(SOAK_SECONDS) $(PY) -m pytest tests/reliability -m soak -q -s -p no:cacheprovider

conformance: dev ## Kapacitor conformance cases (../shared/conformance)
	$(PY) ../shared/conformance/run.py --kapfast "$(VENV)/bin/kapfast"

bench: dev ## benchmarks with ratios against peers measured in the same run
	$(PYTHON) scripts/deps.py bench | $(PY) -m pip install -q -r /dev/stdin
	$(PY) -m pytest benches -q -s -p no:cacheprovider

FUZZ_SECONDS ?= 120
FUZZ_RUSTFLAGS := -Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
    -Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
    -Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing -Cdebug-assertions -Coverflow-checks
fuzz: ## libFuzzer on the line-protocol parser for FUZZ_SECONDS (needs a nightly toolchain)
	cd fuzz && RUSTFLAGS="$(FUZZ_RUSTFLAGS)" cargo +nightly build --release \
	    --target x86_64-unknown-linux-gnu --bin parse_line_protocol
	mkdir -p fuzz/corpus && cp -n fuzz/seeds/parse_line_protocol/* fuzz/corpus/
	fuzz/target/x86_64-unknown-linux-gnu/release/parse_line_protocol \
	    -max_total_time=$(FUZZ_SECONDS) -max_len=512 fuzz/corpus

fmt: deps ## format Rust and Python
	cargo fmt
	$(VENV)/bin/ruff format python tests benches
	$(VENV)/bin/ruff check --fix python tests benches

clean:
	rm -rf target $(VENV) python/kapfast/*.so
