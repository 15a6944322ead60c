# The two commands of the README: `make run` and `make test` (DESIGN.md §2).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
WEB_STAMP := web/node_modules/.built-stamp
PG_VERSION = $(shell ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1)

.PHONY: run test install web services chromium lint signaling-coverage format check clean bench

run: install web
	mkdir -p data
	$(BIN)/preceptor migrate
	$(BIN)/preceptor serve --host 127.0.0.1 --port 8000

test: install web services chromium
	$(MAKE) lint
	$(MAKE) signaling-coverage
	$(BIN)/pytest -n 2 --dist loadfile --ignore=tests/signaling  # tests/signaling: just run, above

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

# Third-party browser libraries come from npm and are bundled with esbuild (DESIGN.md §1).
web: $(if $(wildcard web/package.json),$(WEB_STAMP))
	@if [ -f web/package.json ]; then cd web && npm run --silent build; fi

$(WEB_STAMP): web/package.json web/package-lock.json
	cd web && npm ci --no-audit --no-fund
	touch $@

# PostgreSQL and Redis are the machine's own; start them when they are down.
services:
	@pg_isready -q -h 127.0.0.1 -p 5432 || pg_ctlcluster --skip-systemctl-redirect $(PG_VERSION) main start
	@for i in $$(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 0.5; done
	@redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 || redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log
	@for i in $$(seq 1 30); do redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break; sleep 0.2; done

# Browser tests drive Debian's Chromium; never a downloaded browser build.
chromium:
	@command -v chromium >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# The sans-I/O signaling core is held to 100 % branch coverage (DESIGN.md §7).
signaling-coverage: install
	$(BIN)/coverage run --branch --source=signaling --data-file=.coverage.signaling -m pytest -q -p no:cacheprovider tests/signaling
	$(BIN)/coverage report --data-file=.coverage.signaling --fail-under=100 --skip-covered
	rm -f .coverage.signaling

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: install web services
	cd bench/node && npm ci --no-audit --no-fund
	$(BIN)/python bench/signaling.py
	$(BIN)/python bench/joins.py
	$(BIN)/python bench/notes.py

clean:
	rm -rf $(VENV) web/node_modules web/dist .pytest_cache .mypy_cache .ruff_cache
