# `make demo` and `make test` each set up what they need on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test test-load test-fast test-shuffled lint bench screenshots clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "Python 3.11 is required"'
	@$(PYTHON) -c 'import tkinter; tkinter.Tcl()' 2>/dev/null || { \
		echo "installing Tcl/Tk for the Vivado emulator"; \
		apt-get update -qq && apt-get install -y -qq python3-tk tcl; }
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { \
		echo "installing PostgreSQL for the scale-out catalog tests"; \
		apt-get update -qq && apt-get install -y -qq postgresql; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/afs demo

# Everything but the 200-image load test, which alone takes longer than the rest (make test-load).
# Two test processes, each with servers of its own; a module's tests stay in one of them, so a
# module's servers and build hosts start once.
test: $(STAMP)
	$(BIN)/pytest -m "not load" -n 2 --dist loadscope --durations=20

test-load: $(STAMP)
	$(BIN)/pytest -m load

# The inner loop: no server, no Prefect run, no slow suite, on both cores (under a minute).
test-fast: $(STAMP)
	$(BIN)/pytest -m "not servers and not slow" -n 2

# The whole suite in a random order (pytest-randomly; the seed is printed to replay an order).
test-shuffled: $(STAMP)
	$(BIN)/pytest -m "not load" -p randomly

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# Every benchmark in bench/, one after another (about 15 minutes); writes bench/RESULTS.md.
bench: $(STAMP)
	$(BIN)/python -m bench.run_all

# The README's pictures of the Prefect UI (headless Chromium and a font with Chinese glyphs, for
# the request rules' punctuation; apt-get installs each if missing).
screenshots: $(STAMP)
	$(BIN)/python -m afs.devstack.screenshots

clean:
	rm -rf $(VENV) .afs-demo
