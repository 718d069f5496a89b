# Every install step lives here: `make test` and `make bench` work on a fresh machine.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: venv test bench site check baselines leaderboard chromium clean

# torch first, pinned: an unpinned torch pulled in by another package resolves
# to a multi-GB CUDA build. GPU users: see README.md ("GPU install").
$(STAMP): pyproject.toml Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip "setuptools>=64" wheel
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

# One torch thread per test worker: two workers on two cores, no oversubscription.
test: $(STAMP) chromium
	OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 $(PY) -m pytest -q -n 2 --dist loadfile

# The browser tests drive Debian's chromium through Playwright; where apt is
# unavailable (no root, not Debian) they skip and say why.
chromium:
	@command -v chromium >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq chromium) >/dev/null 2>&1 \
		|| echo "chromium could not be installed: the browser tests will be skipped"

bench: $(STAMP)
	$(VENV)/bin/regsuite bench $(BENCH_ARGS)

# Committed baselines: the smoke tier of every suite, default methods, 3 seeds (what CI checks
# against; CI runs this same target into results/local/ci). BASELINE_SUITES=vision limits it to
# some suites; the whole BASELINE_DIR is replaced either way.
BASELINE_DIR ?= results/baseline
BASELINE_SUITES ?= vision llm domain-generalization continual optimal-transport grokking
baselines: $(STAMP)
	rm -rf $(BASELINE_DIR)
	$(VENV)/bin/regsuite bench --tier smoke --seeds 3 --out $(BASELINE_DIR) --quiet \
		$(foreach s,$(BASELINE_SUITES),--suite $(s)) $(BASELINE_ARGS)

# The published leaderboard: the tuned protocol (6 Sobol trials, 5 final seeds) and the defaults
# track over every applicable method of the standard tier, with the process executor. Hours of CPU:
# resumable (finished runs are cache hits), one task at a time. docs/protocol.md says what it runs.
LEADERBOARD_DIR ?= results/leaderboard
LEADERBOARD_ARGS ?=
leaderboard: $(STAMP)
	OMP_NUM_THREADS=1 $(VENV)/bin/regsuite leaderboard --tier standard --out $(LEADERBOARD_DIR) \
		--executor process --workers 2 --quiet $(LEADERBOARD_ARGS)

site: $(STAMP)
	$(VENV)/bin/regsuite site build --results results --out _site

check: $(STAMP)
	$(VENV)/bin/regsuite check --baseline $(BASELINE_DIR) --candidate results/local

clean:
	rm -rf $(VENV) build *.egg-info
