# The verbs people type. Everything installs into .venv on first use.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: help install demo test test-heavy test-faults test-fast bench bench-quality lint format check clean

help:  ## this list: every target and what it does
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/^([a-z-]+):[^#]*## /\1\t/' | \
		awk -F '\t' '{ printf "  make %-14s %s\n", $$1, $$2 }'

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

install: $(VENV)/.installed  ## Python deps into .venv, Debian data packages when root
	@bash scripts/system-deps.sh

demo: install  ## the main job: a short real sweep on Fashion-MNIST; prints where its outputs are
	$(PY) -m cnnsweep --multirun +sweep=seed_cnn dataset=fashion_mnist dataset.train_limit=6000 \
		trainer.epochs=3 hydra.sweeper.n_trials=6

test: install  ## the suite, two test files at a time (the longest cases are in test-heavy)
	$(PY) -m pytest -n 2 --dist loadfile

test-heavy: install  ## the longest end-to-end cases (benchmarks, SLURM, MLflow server, real data, every sampler), a CI step
	$(PY) -m pytest -m "heavy and not timed" -n 2 --dist loadfile
	$(PY) -m pytest -m "heavy and timed"

test-faults: install  ## the fault-injection suite: killed, interrupted, disk-full sweeps (root for tmpfs)
	$(PY) -m pytest -m "fault and not timed" -n 2 --dist load
	$(PY) -m pytest -m "fault and timed"

test-fast: install  ## everything but the slow subprocess trainings and the fault suite
	$(PY) -m pytest -m "not slow and not fault"

bench: install  ## benchmarks 1-3 (overhead, throughput, pruning) -> benchmarks/RESULTS.md, ~20 min
	$(PY) -m benchmarks.run

bench-quality: install  ## benchmark 4: one round, a 20-minute sweep and two peers -> RESULTS.md
	$(PY) -m benchmarks.run quality

lint: install  ## ruff on the code, the tests and the benchmarks, and the formatter's check
	$(PY) -m ruff check cnnsweep hydra_plugins tests benchmarks
	$(PY) -m ruff format --check cnnsweep hydra_plugins tests benchmarks

format: install  ## the formatter, applied (what make lint checks)
	$(PY) -m ruff format cnnsweep hydra_plugins tests benchmarks

check: lint  ## the house rules CI enforces: ruff and its formatter, the import contracts, no import cycle, mypy
	$(VENV)/bin/lint-imports
	$(PY) -m pytest -q -p no:cacheprovider tests/test_import_graph.py
	$(PY) -m mypy

clean:  ## the venv and build leftovers
	rm -rf $(VENV) build dist .pytest_cache .hypothesis
