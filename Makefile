# tierctl developer tasks. `make demo` and `make test` set up what they need
# (a project-local Python venv for the AWS emulator) on a fresh machine.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
VENV_PY := $(VENV)/bin/python
VENV_STAMP := $(VENV)/.installed
EMULATOR_LOCK := tests/emulator/requirements.lock
CARGO ?= cargo
TIERCTL := $(or $(CARGO_TARGET_DIR),target)/debug/tierctl

.PHONY: help venv build test test-rust test-emulator demo lint fmt bench clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | expand -t 16

$(VENV_STAMP): $(EMULATOR_LOCK)
	$(PYTHON) -m venv $(VENV)
	$(VENV_PY) -m pip install --quiet --disable-pip-version-check -r $(EMULATOR_LOCK)
	touch $@

venv: $(VENV_STAMP) ## Create the Python venv with the AWS emulator (moto, pinned)

build: ## Build tierctl (debug)
	$(CARGO) build

test: venv ## Run every test: Rust unit + end-to-end (against the emulator), emulator self-tests, schema drift, examples
	$(MAKE) --no-print-directory test-emulator
	$(MAKE) --no-print-directory test-rust
	$(TIERCTL) schema --check
	$(TIERCTL) validate workloads

test-rust:
	TIERCTL_EMULATOR_PYTHON=$(CURDIR)/$(VENV_PY) $(CARGO) test --all-targets

test-emulator: venv
	cd tests/emulator && ../../$(VENV_PY) -m unittest discover -s tests

demo: venv build ## The main job on the embedded example: emulator, example fleet, validate (sync, plan, run as they land)
	TIERCTL=$(TIERCTL) TIERCTL_EMULATOR_PYTHON=$(VENV_PY) tests/demo/demo.sh

lint: ## cargo fmt --check and clippy -D warnings
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets -- -D warnings

fmt: ## Format the code
	$(CARGO) fmt --all

clean: ## Remove build output and the venv
	$(CARGO) clean
	rm -rf $(VENV)
