# The two commands: `make demo` and `make test`. Both create .venv if missing and install everything.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SANDBOX ?= demo
STAMP := $(VENV)/.installed

.PHONY: setup demo test lab bench clean-venv

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# Pinned exactly: an unpinned torch pulls gigabytes of CUDA packages.
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[ray,test]'
	$(BIN)/python -m ipykernel install --sys-prefix --name pinsandbox --display-name pinsandbox
	touch $@

setup: $(STAMP)

demo: setup
	$(BIN)/pinsandbox run-all --sandbox $(SANDBOX) --preset demo --create
	$(BIN)/pinsandbox report --sandbox $(SANDBOX)

test: setup
	$(BIN)/python -m pytest

lab: setup
	$(BIN)/pinsandbox lab --sandbox $(SANDBOX) --create

bench: setup
	$(BIN)/pinsandbox bench

clean-venv:
	rm -rf $(VENV)
