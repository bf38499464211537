# trailwatch — the two commands of the quick start are `make replay` and `make test`.

CARGO ?= cargo
BIN := target/release/trailwatch

.PHONY: all build replay test fmt-check clippy unit samples-check clean

all: build

build:
	$(CARGO) build --release --locked

## Build, then replay every sample with the sample configuration.
replay: build
	$(BIN) replay --config samples/trailwatch.toml samples/

## Everything CI checks: formatting, lints, then every test.
test: fmt-check clippy unit samples-check

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
