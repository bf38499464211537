# trailwatch — the two commands of the quick start are `make replay` and `make test`.

CARGO ?= cargo
BIN := target/release/trailwatch
VENV := .venv
PYTHON ?= python3

.PHONY: all build replay test venv fmt-check clippy unit samples-check clean

all: build

build:
	$(CARGO) build --release --locked

## Build, then replay every sample with the sample configuration.
replay: build
	$(BIN) replay --config samples/trailwatch.toml samples/

## Everything CI checks: formatting, lints, then every test (moto server is started and
## stopped by the tests that need it).
test: venv fmt-check clippy unit samples-check

## Python tools for the tests (moto server), pinned in requirements-test.txt.
venv: $(VENV)/.installed

$(VENV)/.installed: requirements-test.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-test.txt
	touch $@

fmt-check:
	$(CARGO) fmt --all -- --check

clippy:
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings

unit:
	$(CARGO) test --workspace --locked

## The generated samples are committed; regenerating them must change nothing.
samples-check:
	python3 samples/make_samples.py --check

clean:
	$(CARGO) clean
