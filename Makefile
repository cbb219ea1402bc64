# resnet-edu: `make lab` sets everything up and opens the lessons; `make test` sets everything up and runs every check.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
REQS := requirements.txt requirements-dev.txt pyproject.toml
STAMP := $(VENV)/.installed-$(shell cat $(REQS) 2>/dev/null | sha1sum | cut -c1-12)
SUDO := $(shell [ "$$(id -u)" = 0 ] || command -v sudo >/dev/null && [ "$$(id -u)" != 0 ] && echo sudo)
# JupyterLab refuses to run as root unless told to (containers, Colab-like VMs).
LAB_FLAGS := --ServerApp.root_dir=notebooks $(if $(filter 0,$(shell id -u)),--allow-root)
TEST_ENV := RESNET_EDU_SCALE=cpu MPLBACKEND=Agg PYTHONHASHSEED=0
# The Colab-like environment (issue 12): Colab's versions, torch linked from $(VENV); rebuilt when its inputs or
# the main venv's requirements change (the stamp name is their hash).
COLAB_VENV := .venv-colab
COLAB_INPUTS := tests/colab/constraints.txt tests/colab/requirements.txt tools/colab_env.py $(REQS)
COLAB_STAMP := $(COLAB_VENV)/.installed-$(shell cat $(COLAB_INPUTS) 2>/dev/null | sha1sum | cut -c1-12)

# The web book (issue 24): `make notebooks` runs the lessons with static apps (RESNET_EDU_STATIC=1, every slider
# state pre-rendered) and the inline backend (figures become outputs), and saves each executed notebook into
# BOOK_EXECUTED; `make book` renders those (executing any that is missing or stale itself) into build/book/html/.
BOOK_EXECUTED := build/book/executed
BOOK_ENV := RESNET_EDU_STATIC=1 MPLBACKEND=module://matplotlib_inline.backend_inline

.PHONY: lab test seeds setup graphviz chromium lint unit notebooks e2e ddp clean help colab-env colab-notebooks colab-links book
.DEFAULT_GOAL := help

help:
	@echo "make lab   - set up (venv, packages, Graphviz) and open the lessons in JupyterLab"
	@echo "make test  - set up and run every check: ruff, pytest tests/, every notebook (nbval) here and in a"
	@echo "             Colab-like environment, the browser test (JupyterLab 4 and Colab's classic Notebook, and every"
	@echo "             page of the web book)"
	@echo "make book  - build the web book (every lesson executed at CPU scale, sliders pre-rendered) into"
	@echo "             build/book/html/; open it with: python -m http.server -d build/book/html"
	@echo "make seeds - run every notebook on seeds 0-5 and print, per check cell, pass/fail and its smallest"
	@echo "             margin (not part of make test; SEEDS_ARGS='--seeds 0-1 --jobs 2' narrows or widens it)"
	@echo "make colab-links REPO=owner/name - point every Colab badge and set-up cell at a fork (no REPO: only"
	@echo "             rewrite each notebook's badge and set-up cell, e.g. after adding a notebook)"

# The venv's bin/ goes first on the PATH that the server and its kernels inherit, so that programs the lessons start
# (lesson 08's %tensorboard) are found without activating the venv.
lab: setup graphviz
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/jupyter lab $(LAB_FLAGS)

# The two notebook runs (here and Colab-like) go side by side: each runs one kernel at a time, on one core mostly.
test: setup colab-env graphviz lint unit
	@$(MAKE) --no-print-directory -j2 --output-sync=target notebooks colab-notebooks
	@$(MAKE) --no-print-directory book e2e
	@echo "All checks passed."

setup: $(STAMP)

# The install is skipped on a second run unless a requirements file changed (the stamp name is their hash).
$(STAMP):
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade --quiet pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	@rm -f $(VENV)/.installed-*
	@touch $@

graphviz:
	@if command -v dot >/dev/null; then exit 0; fi; \
	if command -v apt-get >/dev/null; then \
		echo "Installing Graphviz (dot) with apt-get"; \
		$(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq --no-install-recommends graphviz >/dev/null; \
	else \
		echo "Graphviz's dot is missing and apt-get is not available: install it with"; \
		echo "  conda install graphviz   or   brew install graphviz"; \
		echo "(the diagram cells of lessons 02 and 03 need it and will say so)"; \
	fi

chromium:
	@if [ -x /usr/bin/chromium ]; then exit 0; fi; \
	if command -v apt-get >/dev/null; then \
		echo "Installing Debian's chromium with apt-get (for the browser test)"; \
		$(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq --no-install-recommends chromium >/dev/null \
		|| echo "chromium could not be installed: the browser test will be skipped"; \
	else echo "apt-get is not available: the browser test will be skipped"; fi

lint: setup
	$(BIN)/ruff check .

# On every core (pytest-xdist): about half the time on the 2-core CI machine.
unit: setup
	$(TEST_ENV) $(BIN)/pytest tests --ignore=tests/e2e -n auto

# Every notebook on the seed of RESNET_EDU_SEED (default 0), then the cheap lessons once more on another seed
# (issue 21: a claim must not hold for one seed only; about 30 s more on a quiet 2-core CPU). `make seeds` runs
# every lesson on seeds 0-5.
OTHER_SEED := 3
CHEAP_LESSONS := notebooks/00_start_here.ipynb notebooks/02_identity_mapping.ipynb
notebooks: setup graphviz
	$(TEST_ENV) $(BOOK_ENV) $(BIN)/python -m pytest -p tools.book_outputs --book-outputs $(BOOK_EXECUTED) \
		--nbval-lax --nbval-current-env notebooks/
	RESNET_EDU_SEED=$(OTHER_SEED) $(TEST_ENV) $(BIN)/pytest --nbval-lax --nbval-current-env $(CHEAP_LESSONS)

book: setup graphviz
	$(TEST_ENV) $(BIN)/python tools/book.py build --executed $(BOOK_EXECUTED)

# Every notebook on seeds 0-5 (tools/seeds.py): per check cell pass/fail and its smallest margin. Not part of `test`.
seeds: setup graphviz
	$(TEST_ENV) $(BIN)/python tools/seeds.py $(SEEDS_ARGS)

# `unit` runs it too; this runs only the torchrun test (2 gloo processes on the CPU, identical weights at the end)
ddp: setup
	$(TEST_ENV) $(BIN)/pytest tests/test_distributed.py -v -s

# The Colab-like run: every notebook under nbval in a kernel with Colab's versions that takes the Colab branch of
# the set-up cell (installing this checkout through RESNET_EDU_SOURCE); fails if that changes a preinstalled package.
colab-env: $(COLAB_STAMP)

$(COLAB_STAMP): $(STAMP)
	$(BIN)/python tools/colab_env.py build --venv $(COLAB_VENV) --torch-from $(VENV)
	@touch $@

colab-notebooks: setup colab-env graphviz
	$(TEST_ENV) $(BIN)/python tools/colab_env.py notebooks --venv $(COLAB_VENV)

colab-links:
	$(PYTHON) tools/colab.py links $(REPO)

# The browser test also opens every page of the web book, so it builds it first (reusing `make notebooks`' runs).
e2e: setup chromium colab-env book
	$(TEST_ENV) $(BIN)/pytest tests/e2e -v -rs

clean:
	rm -rf $(VENV) $(COLAB_VENV) artifacts build/book .pytest_cache .ruff_cache
