# Slipway's commands. `make run` and `make test` are all a newcomer needs (Python 3.11+).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python

.PHONY: run test lint bench bench-load bench-github fuzz install clean

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Slipway needs Python 3.11 or newer; set PYTHON=python3.11")'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $@

install: $(VENV)/.installed

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

clean:
	rm -rf $(VENV) var
