# The project's stable interface. `make run` and `make test` are the README's two commands;
# .ci/run calls `make test`.
SHELL := /bin/bash
CARGO ?= cargo
TOPOLOGY ?= topology.ron
# Trials per scenario of bench-control; BENCHMARKS.md records 100.
CONTROL_TRIALS ?= 100
SUPERVISOR := target/release/supervisor

.PHONY: all run test deps lint test-rust test-loom browser-test-dev build-release check \
        bench-ring bench-latency bench-replay bench-control bench-actors chaos soak fuzz

all: test

include ui/web/cockpit.mk

## run: build everything (cockpit first: it is embedded in the binary) and start the engine
run: cockpit-build build-release
	$(SUPERVISOR) start --topology $(TOPOLOGY)

build-release: cockpit-build
	$(CARGO) build --release --locked -p supervisor

## check: validate the topology without starting anything
check: build-release
	$(SUPERVISOR) check --topology $(TOPOLOGY)

## test: everything CI runs: format, lints, every Rust test, cockpit tests, browser test
test: deps lint test-rust test-loom cockpit-test browser-test-dev

deps: cockpit-deps cockpit-build

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings

test-rust:
	$(CARGO) test --workspace --locked

## test-loom: model-check the ring and seqlock protocols (own build dir: --cfg loom rebuilds runtime)
test-loom:
	RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom $(CARGO) test --locked -p runtime --release --test ring_loom
	RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom $(CARGO) test --locked -p runtime --release --lib loom

## browser-test-dev: the browser test on the test build's supervisor (saves CI a release build)
browser-test-dev: cockpit-deps cockpit-build
	$(CARGO) build --locked -p supervisor
	SUPERVISOR=$(CURDIR)/target/debug/supervisor node ui/web/tests/browser.mjs

## bench-ring: ring latency and throughput against the floor and its peers (issue 2)
bench-ring:
	$(CARGO) bench -p runtime --bench ring

## bench-replay: replay throughput, gzip JSON and binary capture (issue 4)
bench-replay:
	$(CARGO) bench -p venue --bench replay

## bench-actors: per-call cost of each actor state machine beside the timing floor
bench-actors:
	$(CARGO) bench -p actors --bench actors

## bench-control: kill-switch and restart latency over real processes (issue 3)
bench-control:
	$(CARGO) bench -p supervisor --bench control -- --trials $(CONTROL_TRIALS)

## bench-latency: tick-to-order and every hop of the whole engine at 1k/10k/100k/1M events/s,
## from intended send times, vs the same chain on crossbeam channels (issue 7)
bench-latency:
	$(CARGO) run --release --locked -p latency-bench --bin bench-latency -- --topology $(TOPOLOGY) --json target/bench-latency.json

## chaos: SIGKILL actors and cut the venue while trading, then check journal, position, deadlines
chaos:
	CHAOS_SECS=$${CHAOS_SECS:-600} $(CARGO) test --locked -p supervisor --test chaos -- --nocapture

## soak: one hour; resident memory, file descriptors and latency percentiles must stay flat
soak:
	SOAK_SECS=$${SOAK_SECS:-3600} $(CARGO) test --locked -p supervisor --test soak -- --nocapture

## fuzz: every cargo-fuzz target for FUZZ_SECONDS each (needs `cargo install cargo-fuzz --locked`)
fuzz:
	cd fuzz && for t in fuzz_topology fuzz_venue_protocol fuzz_binance fuzz_lobster fuzz_ui_request fuzz_shm_attach; do mkdir -p /tmp/fuzz-work/$$t && RUSTC_BOOTSTRAP=1 cargo fuzz run -O $$t /tmp/fuzz-work/$$t corpus/$$t -- -max_total_time=$${FUZZ_SECONDS:-60} -max_len=16384 || exit 1; done
