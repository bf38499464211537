# trailwatch — the two commands of the quick start are `make replay` and `make test`.

CARGO ?= cargo
BIN := target/release/trailwatch
VENV := .venv
# checkov pins an old boto3/botocore, whose CloudWatch model makes moto refuse the JSON
# protocol: it gets a venv of its own.
VENV_INFRA := .venv-infra
PYTHON ?= python3

.PHONY: all build replay test venv fmt-check clippy unit samples-check lambda-smoke tf-check package package-x86_64 fuzz fuzz-build clean bench bench-tools bench-criterion

all: build

build:
	$(CARGO) build --release --locked

## Build, then replay every sample with the sample configuration (samples/adversarial
## holds broken input on purpose and is not part of the demo).
SAMPLE_DIRS := $(filter-out samples/adversarial/,$(wildcard samples/*/))
replay: build
	$(BIN) replay --config samples/trailwatch.toml $(SAMPLE_DIRS)

## Everything CI checks: formatting, lints, then every test (moto server is started and
## stopped by the tests that need it), and the fuzz targets build (about 2 min on 2 cores).
test: venv fmt-check clippy unit samples-check tf-check lambda-smoke fuzz-build

## The real function binaries under `cargo lambda watch`, invoked with `cargo lambda invoke`.
lambda-smoke: venv
	$(VENV)/bin/python tests/lambda_smoke.py

## Release zips for Lambda (provided.al2023, arm64): target/lambda/<function>/bootstrap.zip.
## Needs the aarch64-unknown-linux-gnu Rust target and zig (pip install ziglang) on the
## machine that packages; CI does not build arm64.
package: venv
	$(VENV)/bin/cargo-lambda lambda build --release --arm64 --output-format zip \
		--package trailwatch-ingest --package trailwatch-logs

## The same for x86_64 with the host toolchain (no cross compiler needed).
package-x86_64: venv
	$(VENV)/bin/cargo-lambda lambda build --release --x86-64 --compiler cargo --output-format zip \
		--package trailwatch-ingest --package trailwatch-logs

## Python tools for the tests (moto server, cargo-lambda), pinned in requirements-test.txt.
venv: $(VENV)/.installed

$(VENV)/.installed: requirements-test.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-test.txt || \
		$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-test.txt
	touch $@

$(VENV_INFRA)/.installed: requirements-infra.txt
	$(PYTHON) -m venv $(VENV_INFRA)
	$(VENV_INFRA)/bin/pip install --quiet --disable-pip-version-check -r requirements-infra.txt || \
		$(VENV_INFRA)/bin/pip install --quiet --disable-pip-version-check -r requirements-infra.txt
	touch $@

## Terraform checks that need no provider download: fmt (where terraform exists), checkov,
## and the Rust test that cross-checks infra/ with the code (IAM, env, metrics). Built for
## the workspace, as `unit` builds it: for one package, features unify otherwise and every
## AWS SDK crate would build a second time.
tf-check: $(VENV_INFRA)/.installed
	@if command -v terraform >/dev/null 2>&1; then terraform fmt -check -recursive infra; \
	else echo "terraform not installed: fmt check skipped"; fi
	$(VENV_INFRA)/bin/checkov -d infra --quiet --compact --skip-download --framework terraform
	$(CARGO) test --workspace --locked --test infra

fmt-check:
	$(CARGO) fmt --all -- --check

clippy:
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings

unit:
	$(CARGO) test --workspace --locked

## The generated samples are committed; regenerating them must change nothing. The
## Python baseline of `make bench` must find what trailwatch finds on them.
samples-check:
	$(PYTHON) samples/make_samples.py --check
	$(PYTHON) samples/adversarial/make_adversarial.py --check
	$(PYTHON) benches/check_baseline.py --trailwatch target/debug/trailwatch

## Fuzzing (fuzz/, its own workspace) with cargo-fuzz (`cargo install cargo-fuzz --locked`).
## The stable toolchain takes libFuzzer's -Z flags with RUSTC_BOOTSTRAP=1.
FUZZ_TARGETS := splitter decode record skim envelope
FUZZ_TIME ?= 180
FUZZ := RUSTC_BOOTSTRAP=1 $(CARGO) fuzz

## CI checks that the targets build, unoptimised (half the time of a release build);
## `make fuzz` builds them optimised to run them.
fuzz-build:
	@command -v cargo-fuzz >/dev/null 2>&1 || $(CARGO) install cargo-fuzz --locked
	$(FUZZ) build --dev -a

fuzz:
	@command -v cargo-fuzz >/dev/null 2>&1 || $(CARGO) install cargo-fuzz --locked
	$(PYTHON) fuzz/seed.py
	for t in $(FUZZ_TARGETS); do \
		$(FUZZ) run -a $$t -- -max_total_time=$(FUZZ_TIME) -max_len=65536 -timeout=10 \
			-dict=fuzz/trailwatch.dict -print_final_stats=1 || exit 1; \
	done

clean:
	$(CARGO) clean

## The side-by-side comparison of issue 6 on a generated 100 MB file: decode-only (the
## limit), replay on one and two threads, gzip -dc, the Python baseline, zcat | jq, peak
## RSS of each; the 1 GB memory check; the Lambda path against moto.
bench: build venv bench-tools
	$(PYTHON) benches/compare.py --lambda --json target/bench/results.json

## Per-stage throughput (decode, split, parse: skim and tape, detect, pipeline).
bench-criterion:
	$(CARGO) bench --locked --bench pipeline

## jq and GNU time (for peak RSS) come from Debian's packages when missing.
bench-tools:
	@missing=""; for t in jq /usr/bin/time gzip; do command -v $$t >/dev/null 2>&1 || missing="$$missing $$t"; done; \
	if [ -n "$$missing" ]; then echo "installing jq and time (missing:$$missing)"; \
		apt-get install -y -q jq time >/dev/null || { apt-get update -q >/dev/null && apt-get install -y -q jq time >/dev/null; }; fi
