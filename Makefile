# Groundwork. `make demo` runs the whole product on a tiny generated dataset; `make test` runs
# the tests. Both install what they need first. Every pip call goes through constraints.txt,
# which pins the local CPU torch wheel (anything else pulls GBs of CUDA).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
CONSTRAINTS := -c constraints.txt
STAMP := $(VENV)/.installed

DATASET ?= demo
BACKEND ?= transformers
CACHE ?= $(CURDIR)/.cache/groundwork
export GROUNDWORK_CACHE ?= $(CACHE)
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false
export RAY_USAGE_STATS_ENABLED := 0

.PHONY: install test test-fast priors demo bench clean

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q $(CONSTRAINTS) --upgrade pip setuptools wheel
	$(PIP) install -q $(CONSTRAINTS) -e '.[dev]'
	touch $(STAMP)

test: install
	$(PY) -m pytest -q

test-fast: install
	$(PY) -m pytest -q -m "not slow"

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
