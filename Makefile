# The project's stable interface. `make run` and `make test` are the README's two commands.
SHELL := /bin/bash
CARGO ?= cargo

.PHONY: test test-rust lint run bench-ring

## test: everything CI runs (format, lints, every Rust test)
test: lint test-rust

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings

test-rust:
	$(CARGO) test --workspace --locked

## bench-ring: ring latency and throughput against the floor and its peers
bench-ring:
	$(CARGO) bench -p runtime --bench ring
