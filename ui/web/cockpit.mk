# Cockpit targets, included from the root Makefile (`include ui/web/cockpit.mk`).
# Paths are relative to the repository root, where make runs.

COCKPIT_DIR := ui/web
NPM ?= npm
CARGO ?= cargo
CHROMIUM ?= /usr/bin/chromium

.PHONY: cockpit-deps cockpit-build cockpit-test browser-test cockpit-endurance

## cockpit-deps: node modules from the lock file, and Debian's chromium for the browser test
cockpit-deps: $(COCKPIT_DIR)/node_modules/.package-lock.json
	@if [ ! -x $(CHROMIUM) ]; then \
	  echo "cockpit-deps: installing chromium (Debian package) for the browser test"; \
	  SUDO=; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  ( $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium ) >/dev/null \
	    || { echo "cockpit-deps: apt-get install chromium failed (root and Debian mirrors needed)"; exit 1; }; \
	fi

# npm ci only when the lock file changed since the last install (ci wipes node_modules).
$(COCKPIT_DIR)/node_modules/.package-lock.json: $(COCKPIT_DIR)/package-lock.json $(COCKPIT_DIR)/package.json
	cd $(COCKPIT_DIR) && $(NPM) ci --no-audit --no-fund --loglevel=error

## cockpit-build: type-check and build the app into ui/web/dist (embedded into the ui crate at compile time)
cockpit-build: $(COCKPIT_DIR)/node_modules/.package-lock.json
	cd $(COCKPIT_DIR) && $(NPM) run --silent build

## cockpit-test: vitest component tests (frame handling, formatting, confirmation)
cockpit-test: $(COCKPIT_DIR)/node_modules/.package-lock.json
	cd $(COCKPIT_DIR) && npx --no-install vitest run

## browser-test: the real engine + cockpit in headless chromium (screenshots in ui/web/test-results/)
# The supervisor binary is looked up where cargo put it (CARGO_TARGET_DIR honoured).
COCKPIT_SUPERVISOR = $${CARGO_TARGET_DIR:-target}/release/supervisor

browser-test: cockpit-deps cockpit-build
	$(CARGO) build --release --locked -p supervisor
	SUPERVISOR=$(COCKPIT_SUPERVISOR) node $(COCKPIT_DIR)/tests/browser.mjs

## cockpit-endurance: 10 minutes of 20 Hz updates; JS heap at start and end (for BENCHMARKS.md)
cockpit-endurance: cockpit-deps cockpit-build
	$(CARGO) build --release --locked -p supervisor
	SUPERVISOR=$(COCKPIT_SUPERVISOR) node $(COCKPIT_DIR)/tests/endurance.mjs
