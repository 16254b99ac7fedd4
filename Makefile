# microgradx: `make demo` and `make test` each do all set-up on a fresh machine.
# Set-up = a .venv with the package installed editable (with its extras) and
# the Graphviz `dot` program. Both targets are idempotent and fast the second time.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# Extras installed into the venv; CI adds torch (see .ci/run).
EXTRAS ?= test,notebooks
comma  := ,
STAMP  := $(VENV)/.installed-$(subst $(comma),-,$(EXTRAS))

.PHONY: setup demo test viz bench lint dot clean

setup: $(STAMP) dot

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[$(EXTRAS)]'
	@touch $@

# Graphviz's `dot` renders the drawings. Installed with apt-get when we are root;
# otherwise we stop and say exactly what to run.
dot:
	@command -v dot >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "Installing Graphviz (dot) with apt-get ..."; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq graphviz >/dev/null; \
	  else \
	    echo "microgradx needs the Graphviz 'dot' program, which is not installed. Install it with one of:"; \
	    echo "  Debian/Ubuntu:  sudo apt-get install -y graphviz"; \
	    echo "  macOS:          brew install graphviz"; \
	    echo "  conda:          conda install -c conda-forge graphviz"; \
	    echo "then run make again."; \
	    exit 1; \
	  fi; }
	@dot -V

demo: setup
	$(BIN)/python -m microgradx demo

test: setup
	$(BIN)/python -m pytest -q

viz: setup
	$(BIN)/python -m microgradx gallery viz

bench: setup
	$(BIN)/python -m pip install --quiet -e '.[$(EXTRAS),bench]'
	$(BIN)/python benchmarks/bench_engine.py
	$(BIN)/python benchmarks/bench_compiled.py

lint: setup
	$(BIN)/python -m pip install --quiet -e '.[$(EXTRAS),dev]'
	$(BIN)/ruff check microgradx tests benchmarks
	$(BIN)/mypy microgradx

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .hypothesis
