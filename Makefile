# dlpipe: `make run` sets everything up and runs the pipeline; `make test` runs the tests.
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip --disable-pip-version-check
# Python 3.11's own pip (23.2) takes 95 s to resolve this stack; pip 26 takes 45 s.
PIP_VERSION := 26.3
export PATH := $(abspath $(BIN)):$(PATH)
# pip byte-compiles every module it installs (~75 s, mostly torch code that never runs here),
# so it installs with --no-compile, and the install compiles what DVC and the stages import by
# importing it; anything else compiles on its first import. Both need Python free to write
# bytecode, so make's commands run without PYTHONDONTWRITEBYTECODE.
unexport PYTHONDONTWRITEBYTECODE
COMPILE_STACK := $(BIN)/python -c 'import dvc.cli, dvc.repo.reproduce; from dlpipe.preload import import_libraries; import_libraries()'

.DEFAULT_GOAL := help

.PHONY: help install install-dev run test lint clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(BIN)/python:
	python3 -m venv $(VENV)
	$(PIP) install --quiet 'pip==$(PIP_VERSION)'

# `run` needs dlpipe and its stack; `test` and `lint` add the dev tools.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(PIP) install --quiet --no-compile -e .
	$(COMPILE_STACK)
	@touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(PIP) install --quiet --no-compile -e '.[dev]'
	$(COMPILE_STACK)
	@touch $@ $(VENV)/.installed

install: $(VENV)/.installed ## create .venv (if missing) and install dlpipe with its pinned stack

install-dev: $(VENV)/.installed-dev ## install, plus the test and lint tools

run: install ## run the whole pipeline (dvc repro) on the data named in params.yaml
	$(BIN)/python -m dlpipe.preload dvc repro
	@echo
	@echo "Leaderboard: reports/leaderboard.md (also .csv and .png); plots as PNG under reports/"
	@echo "Browse every run:  $(BIN)/mlflow ui --backend-store-uri sqlite:///mlflow.db"

test: install-dev ## run the default test suite (CPU, offline)
	$(BIN)/python -m pytest -q

lint: install-dev ## ruff over src and tests
	$(BIN)/ruff check src tests

clean: ## remove pipeline outputs and tracking stores (keeps .venv)
	rm -rf data/split data/augmented models reports .dlpipe mlflow.db mlartifacts optuna.db
