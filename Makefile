SHELL := /bin/bash
# The two commands of the README:
#   make main   the main job: every method on the embedded benchmark (phantom-mini) and the fixture, reports, the site
#   make test   every check CI runs
# Both create the virtual environment (.venv) when it is missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
DATASETS ?= phantom-mini copy-leak-fixture
TASK2_DATASETS ?= phantom-task2 phantom-task2-2025
# the tests run two processes at a time on two cores: one torch thread each (oversubscribed torch threads spin, ~10x slower)
TEST_ENV := OMP_NUM_THREADS=1

.PHONY: install main test check-clean nbtest pytest clean-nbs site

$(STAMP): setup.py settings.ini
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[dev]"
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $(STAMP)

install: $(STAMP)

# every registered method (runner.METHODS) with its default parameters: Task 1 methods on DATASETS, Task 2 methods on
# TASK2_DATASETS (the Task 2 benchmarks are built on first use, about 5 minutes each on 2 CPU cores)
methods_of = $$($(BIN)/python -c "from fingerprint_lib.runner import METHODS; print(*[m for m, i in METHODS.items() if i.task == $(1)])")
main: install
	for d in $(DATASETS); do for m in $(call methods_of,1); do $(BIN)/fingerprint run $$m --dataset $$d || exit 1; done; done
	for d in $(TASK2_DATASETS); do for m in $(call methods_of,2); do $(BIN)/fingerprint run $$m --dataset $$d || exit 1; done; done
	$(BIN)/fingerprint build-site --out site
	@echo "site: site/index.html"

site: install
	$(BIN)/fingerprint build-site --out site

# strip outputs (they may show CT images), then nbdev's own cleaning; export the library; regenerate the README
clean-nbs: install
	$(BIN)/jupyter nbconvert --log-level=WARN --clear-output --inplace nbs/*.ipynb
	$(BIN)/nbdev_clean
	$(BIN)/nbdev_export
	$(BIN)/jupyter nbconvert --log-level=WARN --to markdown nbs/index.ipynb --output-dir . --output README

# fails when cleaning/exporting would change any file: notebooks must be committed clean and in sync
check-clean: install
	@before=$$(find nbs fingerprint_lib README.md -type f \( -name '*.ipynb' -o -name '*.py' -o -name '*.md' \) | sort | xargs sha1sum); \
	$(MAKE) -s clean-nbs >/dev/null; \
	after=$$(find nbs fingerprint_lib README.md -type f \( -name '*.ipynb' -o -name '*.py' -o -name '*.md' \) | sort | xargs sha1sum); \
	if [ "$$before" != "$$after" ]; then echo "nbdev_clean / nbdev_export / README changed these files:"; \
	  diff <(echo "$$before") <(echo "$$after") | grep '^[<>]' | awk '{print $$3}' | sort -u; exit 1; fi; \
	echo "notebooks clean, library and README in sync"

nbtest: install
	$(TEST_ENV) $(BIN)/nbdev_test --n_workers 2 --timing

pytest: install
	$(TEST_ENV) $(BIN)/python -m pytest tests -q -p no:cacheprovider

test: check-clean nbtest pytest
