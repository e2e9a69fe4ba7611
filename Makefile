# Slipway's commands. `make run` and `make test` are all a newcomer needs (Python 3.11+).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
# What `make` installs, every package pinned with its hashes (`make lock` writes them from pyproject.toml):
# dev.txt for the venv (runtime + tests + the build backend), main.txt for the image (platform/Dockerfile),
# pip.txt for pip itself (installed first: a venv's own pip is as old as its Python, and slower).
LOCK     := requirements/dev.txt
LOCK_RUN := requirements/main.txt
LOCK_PIP := requirements/pip.txt
# The locking tool, pinned; `make lock` installs it in a venv of its own.
UV_VERSION := 0.13.10
UV         := $(VENV)/lock-tool-$(UV_VERSION)/bin/uv
CHECK_PYTHON := $(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Slipway needs Python 3.11 or newer; set PYTHON=python3.11")'

.PHONY: run test lint bench bench-load bench-github bench-sync bench-graph bench-search fuzz install lock lock-upgrade clean

# Locked wheels only (--only-binary: no package is built from source, so nothing unpinned is fetched to
# build it), then the project itself without dependencies, built by the locked setuptools. `pip check`
# catches a dependency added to pyproject.toml but not to the lock.
$(VENV)/.installed: pyproject.toml $(LOCK) $(LOCK_PIP)
	@$(CHECK_PYTHON)
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --require-hashes --only-binary :all: -r $(LOCK_PIP)
	$(PY) -m pip install --quiet --require-hashes --only-binary :all: -r $(LOCK)
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	@$(PY) -m pip check || { echo "pip check failed: after a change to pyproject.toml, run 'make lock'" \
	  "(a venv with packages installed by hand: rm -rf $(VENV) and try again)"; exit 1; }
	@touch $@

install: $(VENV)/.installed

## Write requirements/*.txt from pyproject.toml: one universal resolution (any platform; Python 3.11 and
## newer, with markers) with hashes. Pins already in the lock are kept while they still fit; `make
## lock-upgrade` moves everything to the newest releases. The build backend ([build-system] requires)
## is locked too: the project is installed with it, without build isolation, so nothing unpinned is fetched.
lock: $(UV)
	$(BUILD_REQUIRES) | $(UV) pip compile pyproject.toml - --extra dev $(LOCK_FLAGS) -o $(LOCK)
	$(BUILD_REQUIRES) | $(UV) pip compile pyproject.toml - --constraint $(LOCK) $(LOCK_FLAGS) -o $(LOCK_RUN)
	echo pip | $(UV) pip compile - $(LOCK_FLAGS) -o $(LOCK_PIP)

lock-upgrade: LOCK_FLAGS_EXTRA := --upgrade
lock-upgrade: lock

BUILD_REQUIRES = $(PYTHON) -c 'import tomllib; print(*tomllib.load(open("pyproject.toml", "rb"))["build-system"]["requires"], sep="\n")'
LOCK_FLAGS = --universal --python-version 3.11 --generate-hashes --quiet --custom-compile-command 'make lock' $(LOCK_FLAGS_EXTRA)

$(UV):
	@$(CHECK_PYTHON)
	$(PYTHON) -m venv $(VENV)/lock-tool-$(UV_VERSION)
	$(VENV)/lock-tool-$(UV_VERSION)/bin/python -m pip install --quiet uv==$(UV_VERSION)

## Start the portal (web + worker + beat) on embedded defaults with demo data. PORT=8000 by default.
run: $(VENV)/.installed
	$(PY) manage.py runportal

## Install and run the whole test suite.
test: $(VENV)/.installed
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .

## Benchmarks (bench/README.md): import, ownership lookups, lists; SQLite and PostgreSQL.
bench: $(VENV)/.installed
	$(PY) bench/run.py $(BENCH_ARGS)

## Long property tests and schemathesis (Hypothesis profile `fuzz`), stopped after 15 minutes at most.
fuzz: $(VENV)/.installed
	HYPOTHESIS_PROFILE=fuzz timeout 900 $(PY) -m pytest tests/properties tests/fuzz tests/web/test_stored_xss.py -q $(PYTEST_ARGS)

## Mixed load, production shape (gunicorn, PostgreSQL, Redis, a worker): 64 clients for 60 s. Needs wrk.
bench-load: $(VENV)/.installed
	$(PY) bench/load.py $(BENCH_ARGS)

## 50 runs at once against the fake GitHub (100 ms a call, secondary limits enforced, writes spaced).
bench-github: $(VENV)/.installed
	$(PY) bench/github_runs.py $(BENCH_ARGS)

## Discovery and refresh of a 10,000-repository organisation on the fake GitHub (bench/github_sync.py).
bench-sync: $(VENV)/.installed
	$(PY) bench/github_sync.py $(BENCH_ARGS)

## The dependency graph page of a 200-node neighbourhood (bench/graph.py).
bench-graph: $(VENV)/.installed
	$(PY) bench/graph.py $(BENCH_ARGS)

## Search everything, uncached: 10,000 services + 30,000 runbooks and 100,000 services, SQLite and PostgreSQL.
bench-search: $(VENV)/.installed
	$(PY) bench/search.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) var
