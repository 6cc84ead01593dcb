# dlpipe: `make run` sets everything up and runs the pipeline; `make test` runs the tests.
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
export PATH := $(abspath $(BIN)):$(PATH)

# uv installs the pinned stack in about 40 s on 2 cores, where pip took 2.5-5 min: most of the
# stack is the 6.8 GB CUDA build of torch with its NVIDIA libraries, which uv unpacks in parallel.
UV_VERSION := 0.13.9
# uv does not read pip's configuration, so it is handed what pip is configured with, from its
# files and PIP_* variables (some machines serve torch's wheels from a local index there), with
# pip's rule of taking the best version from any index.
pip_setting = $(shell $(BIN)/python -m pip config list 2>/dev/null | sed -n "s/^\(:env:\|global\|install\)\.$(1)='\(.*\)'$$/\2/p")
UV_INSTALL = $(BIN)/uv pip install --quiet --python $(BIN)/python --index-strategy unsafe-best-match \
	$(addprefix --index-url ,$(firstword $(call pip_setting,index-url))) \
	$(addprefix --extra-index-url ,$(call pip_setting,extra-index-url)) \
	$(addprefix --find-links ,$(call pip_setting,find-links)) \
	$(addprefix --constraint ,$(call pip_setting,constraint))

# uv does not byte-compile: each module compiles on its first import, which needs Python free to
# write bytecode, so make's commands run without PYTHONDONTWRITEBYTECODE. `make install` compiles
# what DVC and the stages import by importing it once (about 30 s on 2 cores): for commands run
# outside make with that variable set, and for `make run`, whose first `dvc repro` would
# otherwise compile it while its first stages wait.
unexport PYTHONDONTWRITEBYTECODE

.DEFAULT_GOAL := help

.PHONY: help install run claims test test-fast lint clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(BIN)/uv:
	python3 -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check 'uv==$(UV_VERSION)'

$(VENV)/.installed: pyproject.toml | $(BIN)/uv
	$(UV_INSTALL) -e '.[dev]'
	@touch $@

$(VENV)/.compiled: $(VENV)/.installed
	$(BIN)/python -c 'import dvc.cli, dvc.repo.reproduce; from dlpipe.preload import import_libraries; import_libraries()'
	@touch $@

install: $(VENV)/.compiled ## create .venv (if missing) and install dlpipe with its pinned stack and dev tools

run: $(VENV)/.compiled ## run the whole pipeline (dvc repro) on the data named in params.yaml
	$(BIN)/python -m dlpipe.preload dvc repro
	@echo
	@echo "Lab report: reports/index.html (open it in a browser; it needs no network)"
	@echo "Leaderboard: reports/leaderboard.md (one table per task family; CSV and PNG in reports/leaderboard/)"
	@echo "Browse every run:  $(BIN)/mlflow ui --backend-store-uri sqlite:///mlflow.db"
	@echo "  then open http://127.0.0.1:5000/#/experiments/1?workflowType=machine_learning (the runs, not GenAI)"

claims: $(VENV)/.installed ## the course's claims as seeded experiments -> reports/claims/claims.md (about 5 min)
	$(BIN)/python -m dlpipe.preload dvc repro claims/dvc.yaml
	@if [ -f reports/index.html ]; then $(BIN)/python -m dlpipe.preload dvc repro --force --single-item lab_report; fi
	@echo
	@echo "Claims: reports/claims/claims.md (and in the lab report, reports/index.html, after a make run)"

# Two workers, each a whole test file at a time (module fixtures are built once): much of the
# suite waits on process start-up, DVC and servers, which two cores overlap. Each worker's
# torch takes its share of the cores (tests/conftest.py), not a thread per core.
test: $(VENV)/.installed ## run the default test suite (CPU, offline)
	$(BIN)/python -m pytest -q --numprocesses 2 --dist loadfile

test-fast: $(VENV)/.installed ## the tests not marked slow (a few minutes), for the edit loop
	$(BIN)/python -m pytest -q -m "not slow"

lint: $(VENV)/.installed ## ruff over src and tests
	$(BIN)/ruff check src tests

clean: ## remove pipeline outputs and tracking stores (keeps .venv)
	rm -rf data/split data/augmented models reports .dlpipe mlflow.db mlartifacts optuna.db
