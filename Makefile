# Two commands do all set-up: `make lab` (JupyterLab on the notebooks) and `make test` (every test).
# Both create .venv when it is missing and install what is needed into it.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.r1lib-installed

.PHONY: lab test browser bench site models clean

$(STAMP): pyproject.toml requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt -e ".[test,grading]"
	touch $(STAMP)

lab: $(STAMP)
	$(BIN)/jupyter lab --notebook-dir=notebooks $$( [ "$$(id -u)" = 0 ] && echo --allow-root )

# The browser test needs Debian's Chromium; this installs it when it can (root + apt-get) and
# otherwise says why the browser test will be skipped.
browser:
	bash tests/ui/ensure_chromium.sh

test: $(STAMP) browser
	$(BIN)/python -m pytest

# The reading copy: every notebook executed and rendered to static HTML in site/ (works offline;
# serve with `python -m http.server --bind 127.0.0.1 --directory site 8000`). Needs npm.
site: $(STAMP)
	$(BIN)/python tools/site/build.py --out site

# Rebuild the tiny transformer's checkpoints (r1lib/labs/lm/checkpoints) from the seed: every stage
# of the R1 recipe, with a progress bar; about 11 minutes on 2 cores (10 min 55 s measured).
models: $(STAMP)
	$(BIN)/python -m r1lib.labs.lm.build

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[bench]"
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) .pytest_cache tests/ui/screenshots site build/site-assets build/site-cache
