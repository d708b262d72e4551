# Generative AI Foundations: one command to build the book, one to test everything.
#   make book        full website (every chapter executed in full mode) -> _build/html
#   make test        the whole test suite (what CI runs)
# The first target that needs Python creates .venv and installs the project into it.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(abspath $(VENV))/bin
STAMP  := $(VENV)/.installed
JOBS   ?= 2

# nbgrader and Jupyter start helper programs (alembic, kernels) by name: put the venv first.
export PATH := $(BIN):$(PATH)
# Progress bars print one summary line instead of widgets in builds and tests.
export GENAI_PROGRESS ?= text
export PYDEVD_DISABLE_FILE_VALIDATION := 1
# Models are built from configs, never downloaded: no code path may reach a model hub.
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: help install book book-quick lab exercises grade check grading-deps test test-unit test-notebooks test-site clean \
        bench bench-quick browser-deps check-site site-assets

help:
	@echo "make install      create $(VENV) and install the course package with everything it needs"
	@echo "make book         build the website, executing every chapter in full mode (_build/html)"
	@echo "make book-quick   the same in QUICK mode (small data, few steps): a fast preview"
	@echo "make lab          open the exercises (and the book) in JupyterLab"
	@echo "make exercises    regenerate exercises/ from solutions/ (nbgrader generate_assignment)"
	@echo "make grade        grade submitted/<student>/<assignment>/ in sandboxes (GRADE_ARGS='--workers 4 ...')"
	@echo "make check NOTEBOOK=exercises/<slug>/<slug>.ipynb   run your notebook the way the grader will"
	@echo "make checkpoints  retrain the shared checkpoints (src/genai_foundations/checkpoints/, CPU, one thread)"
	@echo "make test         run the whole test suite (unit tests, notebooks, nbgrader round trip, site build)"
	@echo "make site-assets  install MathJax for the website into book/_vendor (needs npm once)"
	@echo "make check-site   check the site in _build/html in headless Chromium (offline, phone width, dark theme)"
	@echo "make bench        run every benchmark (ours vs the libraries) in sequence: 55 min measured, rewrites benchmarks/results/"
	@echo "make bench-quick  the same on tiny settings (seconds per script): checks that every benchmark runs"

install: $(STAMP)

# The libraries the benchmarks compare with (extra `bench`): `make bench`, `make bench-quick` and `make test`.
BENCH_STAMP := $(VENV)/.installed-bench
$(BENCH_STAMP): $(STAMP) pyproject.toml
	$(BIN)/python -m pip install -e ".[bench]"
	touch $(BENCH_STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 10), "Python 3.10 or newer is needed"'
	@free=$$(df -Pk . | awk 'NR==2 {print int($$4 / 1048576)}'); [ "$$free" -ge 8 ] || \
	    echo "warning: $$free GiB free here; the environment takes about 7 GiB (PyTorch's CUDA-capable build is 5.5 of it)"
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade "pip>=24"
	$(BIN)/python -m pip install -e .
	touch $(STAMP)

# MathJax for the website, served by the site itself (no CDN): installed once with npm from the version
# pinned in tools/site-assets/package-lock.json into book/_vendor/ (git-ignored); a no-op afterwards.
# npm comes with Node.js; where it is missing and apt-get exists (Debian, CI), it is installed.
site-assets: $(STAMP)
	@command -v npm >/dev/null 2>&1 || { command -v apt-get >/dev/null 2>&1 && \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm >/dev/null); } || \
	    { echo "the website's MathJax is installed with npm: install Node.js (it brings npm)"; exit 1; }
	$(BIN)/python tools/vendor_site_assets.py

book: $(STAMP) site-assets
	$(BIN)/jupyter-book build . --all --warningiserror --keep-going
	@echo "open _build/html/index.html"

book-quick: $(STAMP) site-assets
	GENAI_QUICK=1 $(BIN)/jupyter-book build . --all --warningiserror --keep-going
	@echo "open _build/html/index.html (QUICK mode)"

lab: $(STAMP)
	$(BIN)/jupyter lab --notebook-dir=.

exercises: $(STAMP)
	$(BIN)/python -m genai_foundations.course release

# Grading runs students' code in a bubblewrap sandbox with cgroup limits (root, Linux): the sandbox
# and its install belong to grading and the test suite only, never to `make lab`.
grading-deps:
	@command -v bwrap >/dev/null 2>&1 || { command -v apt-get >/dev/null 2>&1 && \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap >/dev/null); } || \
	    { echo "bubblewrap is needed to grade: install the 'bubblewrap' package"; exit 1; }

grade: $(STAMP) grading-deps
	$(BIN)/python -m genai_foundations.course grade $(GRADE_ARGS)

NOTEBOOK ?=
check: $(STAMP)
	@test -n "$(NOTEBOOK)" || { echo "usage: make check NOTEBOOK=exercises/<slug>/<slug>.ipynb"; exit 2; }
	$(BIN)/python -m genai_foundations.course check $(NOTEBOOK)

# Shared trained models (README, "Conventions for chapters"): retrain every registered checkpoint
# deterministically and rewrite its .safetensors and .json; commit both.
.PHONY: checkpoints
checkpoints: $(STAMP)
	OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 $(BIN)/python tools/make_checkpoints.py

# The browser test drives Debian's Chromium through its version-matched chromedriver (never a downloaded
# browser); only the test suite and check-site need them, never `make lab`.
browser-deps:
	@{ command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; } || \
	    { command -v apt-get >/dev/null 2>&1 && \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null); } || \
	    { echo "the browser test needs Chromium and its driver: install Debian's 'chromium' and 'chromium-driver'"; exit 1; }

BROWSER_STAMP := $(VENV)/.installed-browser
$(BROWSER_STAMP): $(STAMP) pyproject.toml
	$(BIN)/python -m pip install -e '.[browser]'
	touch $(BROWSER_STAMP)

# The site in _build/html (make book or make book-quick) in headless Chromium, offline: one line per failure;
# screenshots and contact sheets in _build/screenshots/.
check-site: $(BROWSER_STAMP) browser-deps
	$(BIN)/python tools/check_site.py _build/html --screenshots _build/screenshots

# Side by side with the libraries: every script of benchmarks/run_all.py in sequence (54 min 21 s measured on the 2-core
# CPU); rewrites benchmarks/results/*.json, which the website's results page renders (grading_throughput
# needs the grading sandbox).
bench: export OMP_NUM_THREADS = 1
bench: export MKL_NUM_THREADS = 1
bench: $(BENCH_STAMP) grading-deps
	$(BIN)/python benchmarks/run_all.py

# The quick variant of every comparison (seconds each) into _build/bench-quick/; `make test` runs the same
# commands through tests/test_benchmarks.py.
bench-quick: export OMP_NUM_THREADS = 1
bench-quick: export MKL_NUM_THREADS = 1
bench-quick: $(BENCH_STAMP)
	$(BIN)/python benchmarks/run_all.py --quick

# The test suite executes each notebook as few times as possible:
#  1. papermill injects QUICK=True into copies of every chapter and solution notebook
#     (tests/notebooks/, git-ignored);
#  2. one pytest run executes those copies with nbval (keeping the executed chapters in
#     _build/executed/), and runs the unit tests and the nbgrader round trip, in $(JOBS) workers;
#  3. the site is built with warnings as errors from the chapters executed in step 2.
# With $(JOBS) workers on a small machine, each process must use one thread: PyTorch's default
# (one per core) in every worker and kernel oversubscribes the CPU and runs 10-50x slower.
test: export OMP_NUM_THREADS = 1
test: export MKL_NUM_THREADS = 1
test: export GENAI_REQUIRE_SANDBOX = 1
test: $(STAMP) $(BENCH_STAMP) $(BROWSER_STAMP) grading-deps browser-deps site-assets
	$(BIN)/python tests/notebook_pipeline.py prepare
	$(BIN)/python -m pytest -n $(JOBS) --dist loadscope --nbval-lax --nbval-cell-timeout=600 --durations=30 \
	    --ignore=tests/site tests
	$(BIN)/python -m pytest tests/site

test-unit: $(STAMP) $(BENCH_STAMP)
	$(BIN)/python -m pytest -n $(JOBS) tests/unit

clean:
	rm -rf _build .pytest_cache
