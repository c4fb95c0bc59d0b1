# The verbs people type. Everything installs into .venv on first use.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: install demo test test-fast lint clean

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

test: install  ## the whole suite (a few minutes on 2 cores)
	$(PY) -m pytest

test-fast: install  ## everything but the slow subprocess trainings
	$(PY) -m pytest -m "not slow"

lint: install
	$(PY) -m ruff check cnnsweep tests

clean:
	rm -rf $(VENV) build dist .pytest_cache .hypothesis
