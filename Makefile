# microgradx: `make demo` and `make test` each do all set-up on a fresh machine.
# Set-up = a .venv with the package installed editable (with the extras the target needs) and
# the Graphviz `dot` program. Every target is idempotent and quick the second time.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# Extras `make test` installs (site: the browser-course smoke test); CI adds torch (see .ci/run).
EXTRAS ?= test,site
comma  := ,

.PHONY: setup demo test test-fast viz notebooks notebook-outputs bench lint dot clean site site-test

# $(call installed,EXTRAS): a stamp file that exists once the package is installed with those extras.
# (Always with a suffix -- "base" for no extras: a pattern rule's % never matches an empty stem.)
installed = $(VENV)/.installed-$(if $(1),$(subst $(comma),-,$(1)),base)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed-%: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.$(if $(EXTRAS_NOW),[$(EXTRAS_NOW)])'
	@touch $@

# Install the package with the extras named in $(1).
define install
	@$(MAKE) --no-print-directory $(call installed,$(1)) EXTRAS_NOW=$(1)
endef

setup: dot
	$(call install,$(EXTRAS))

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

# The demo needs only the package itself (numpy, graphviz, tqdm) and dot.
demo: dot
	$(call install,)
	$(BIN)/python -m microgradx demo

test: setup
	$(BIN)/python -m pytest -q

# The same tests without the slow ones (browsers, notebooks, the site, make dry-runs): for quick work.
test-fast: setup
	$(BIN)/python -m pytest -q -m "not slow"

viz: dot
	$(call install,)
	$(BIN)/python -m microgradx gallery viz

# Open the course in JupyterLab, from the venv (as root, e.g. in a container, JupyterLab needs --allow-root).
notebooks: dot
	$(call install,notebooks)
	$(BIN)/python -m jupyter lab notebooks/ $(if $(filter 0,$(shell id -u)),--allow-root)

# Run every notebook top to bottom and store its outputs, so the pictures show before a student runs anything.
notebook-outputs: dot
	$(call install,test)
	$(BIN)/python notebooks/execute.py

bench: dot
	$(call install,bench)
	$(BIN)/python benchmarks/bench_engine.py
	$(BIN)/python benchmarks/bench_compiled.py
	$(BIN)/python benchmarks/bench_digits.py
	$(BIN)/python benchmarks/bench_trace.py

lint: setup
	$(call install,$(EXTRAS)$(comma)dev)
	$(BIN)/ruff check microgradx tests benchmarks notebooks site
	$(BIN)/mypy microgradx site
	# The benchmarks call untyped libraries (torch, jax, micrograd): strict, less what those make impossible.
	MYPYPATH=benchmarks $(BIN)/mypy --allow-untyped-calls --allow-untyped-decorators --no-warn-return-any --no-warn-unused-ignores benchmarks

# The course in the browser: a static JupyterLite site in _site/ (Pyodide, the notebooks, the gallery).
# Every asset is local and hash-checked; `make site SITE_PYODIDE=cdn` loads Pyodide from its CDN instead.
# Needs npm (for the pinned Pyodide and viz-js packages) once; serve with `python -m http.server -d _site`.
SITE_PYODIDE ?= local
site:
	$(call install,site)
	$(BIN)/python site/build.py --pyodide $(SITE_PYODIDE)

# Build, serve on 127.0.0.1 and run every notebook in headless Chromium (Debian's chromium package).
site-test: site
	$(BIN)/python site/browser.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .hypothesis _site
