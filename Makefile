# Everything runs inside a local virtual environment bootstrapped from nothing but Python + pip.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test install bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## The main job on the embedded defaults: generate a demo month, ingest, reconcile, triage, summarise.
demo: $(STAMP)
	$(BIN)/triage demo

## The whole test suite (PostgreSQL tests run when TRIAGE_TEST_POSTGRES_URL is set; CI sets it).
test: $(STAMP)
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python bench/reconcile.py --rows 1000000

clean:
	rm -rf $(VENV) .triage
