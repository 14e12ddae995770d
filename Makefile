# houtai — the two commands: `make up` runs the back office, `make test` checks it.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: up test lint typecheck imports pytest bench bytecode clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' || \
		{ echo "houtai needs Python >= 3.11; run e.g. 'make up PYTHON=python3.12'"; exit 1; }
	$(PYTHON) -m venv $(VENV)

# Reinstalled whenever pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e .
	@touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $@ $(VENV)/.installed

# The project's own bytecode, compiled ahead (again only where a source changed). Where
# PYTHONDONTWRITEBYTECODE is set (this project's CI machine sets it) Python reads bytecode that
# is there but writes none, so every process of `houtai up`, of the tests and of the benches
# compiled each source it imports again: about a second of CPU at each start of the API or a
# worker. (pip compiles the dependencies, and the Docker image's install the project.)
SOURCES := core models workflows activities services api workers sandbox migrations console
bytecode: $(VENV)/.installed
	@$(BIN)/python -m compileall -q -j 0 $(SOURCES) tests bench

up: $(VENV)/.installed bytecode
	$(BIN)/houtai up

test: $(VENV)/.installed-dev lint typecheck imports pytest

lint: $(VENV)/.installed-dev
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .

typecheck: $(VENV)/.installed-dev
	$(BIN)/mypy

imports: $(VENV)/.installed-dev
	$(BIN)/lint-imports

# Two test processes, each test file in one of them (its module fixtures stay together): the
# suite mostly waits on PostgreSQL, Temporal and the browser, so two halve its time on 2 cores.
pytest: $(VENV)/.installed-dev bytecode
	$(BIN)/python -m pytest -n 2 --dist loadfile --durations=15

# Every bench (or those BENCHES names, e.g. `make bench BENCHES="orders waves"`), each with
# --quick (a bounded run: a few minutes each, under 10 minutes per bench even on a busy machine)
# unless BENCH_ARGS says otherwise (`make bench BENCH_ARGS=` for the full runs of
# bench/README.md); a bench that takes longer than BENCH_TIMEOUT seconds is stopped (Ctrl-C: it
# stops its stack) and the others still run. At the end every bench's figures are printed as one
# table (bench/_summary.py), and the benches that broke are named.
BENCHES ?= $(basename $(notdir $(wildcard bench/[!_]*.py)))
BENCH_ARGS ?= --quick
BENCH_TIMEOUT ?= 1800
bench: $(VENV)/.installed-dev bytecode
	@figures=$$(mktemp); failed=""; for b in $(BENCHES); do \
		HOUTAI_BENCH_FIGURES=$$figures timeout --signal=INT $(BENCH_TIMEOUT) \
			$(BIN)/python bench/$$b.py $(BENCH_ARGS) || failed="$$failed bench/$$b.py"; \
	done; echo; echo "== make bench: every figure of this run"; \
	$(BIN)/python bench/_summary.py $$figures --broke "$$failed"; rm -f $$figures; \
	if [ -n "$$failed" ]; then exit 1; fi

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .import_linter_cache
	find $(SOURCES) tests bench -name __pycache__ -prune -exec rm -rf {} +
