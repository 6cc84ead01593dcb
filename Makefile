# dlpipe: `make run` sets everything up and runs the pipeline; `make test` runs the tests.
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
export PATH := $(abspath $(BIN)):$(PATH)

.DEFAULT_GOAL := help

.PHONY: help install run test test-all lint clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || python3 -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $@

install: $(STAMP) ## create .venv (if missing) and install dlpipe with its pinned stack

run: install ## run the whole pipeline (dvc repro) on the data named in params.yaml
	$(BIN)/python -m dlpipe.preload dvc repro
	@echo
	@echo "Leaderboard: reports/leaderboard.md (also .csv and .png); plots as PNG under reports/"
	@echo "Browse every run:  $(BIN)/mlflow ui --backend-store-uri sqlite:///mlflow.db"

test: install ## run the default test suite (CPU, offline)
	$(BIN)/python -m pytest -q

lint: install ## ruff over src and tests
	$(BIN)/ruff check src tests

clean: ## remove pipeline outputs and tracking stores (keeps .venv)
	rm -rf data/split data/augmented models reports .dlpipe mlflow.db mlartifacts optuna.db
