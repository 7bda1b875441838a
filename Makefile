# Two commands on a fresh machine: `make generate` and `make test` (`make test-fast`, `make lint`: docs/DEVELOPING.md).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
SPECS  ?= specs
OUT    ?= .

.PHONY: generate check test venv clean bundle

$(BIN)/promspec: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[cli,exporter]'
	@touch $@

venv: $(BIN)/promspec

generate: venv
	$(BIN)/promspec generate $(SPECS) -o $(OUT)
	$(BIN)/promspec schema -o schemas

check: venv
	$(BIN)/promspec generate $(SPECS) -o $(OUT) --check
	diff -r specs/backends gen/promspec/data/backends
	$(BIN)/promspec schema -o schemas --check
	$(BIN)/promspec check $(OUT)

# The package ships copies of the project's engine adapters (`backend: vllm` with no Backend spec).
bundle:
	rm -f gen/promspec/data/backends/*.yml
	cp specs/backends/*.yml gen/promspec/data/backends/

$(VENV)/.test-deps: $(BIN)/promspec
	$(BIN)/pip install -q -e '.[test]'
	@touch $@

# Debian's promtool/amtool/prometheus/alertmanager/node_exporter: the suite runs them for real.
.PHONY: tools
tools:
	@if ! command -v promtool >/dev/null || ! command -v amtool >/dev/null || ! command -v prometheus-node-exporter >/dev/null; then \
	  echo "installing Debian's prometheus, prometheus-alertmanager, prometheus-node-exporter"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends \
	    prometheus prometheus-alertmanager prometheus-node-exporter >/dev/null; \
	fi
	@# Headless Chromium renders `promspec preview` PNGs; the suite takes a screenshot with it.
	@if ! command -v chromium >/dev/null; then \
	  echo "installing Debian's chromium"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends \
	    chromium fonts-dejavu-core >/dev/null; \
	fi
	@# pdftoppm (poppler-utils) renders `promspec report` PDF pages to images in the suite.
	@if ! command -v pdftoppm >/dev/null; then \
	  echo "installing Debian's poppler-utils"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends \
	    poppler-utils >/dev/null; \
	fi
	@# The fleet tests (issue 16) run Debian's VictoriaMetrics single-node and vmalert.
	@if ! command -v victoria-metrics >/dev/null || ! command -v vmalert >/dev/null; then \
	  echo "installing Debian's victoria-metrics"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends \
	    victoria-metrics >/dev/null; \
	fi
	@# The Probe end-to-end test runs Debian's blackbox_exporter against local HTTP servers.
	@if ! command -v prometheus-blackbox-exporter >/dev/null; then \
	  echo "installing Debian's prometheus-blackbox-exporter"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends \
	    prometheus-blackbox-exporter >/dev/null; \
	fi

# PYTHONDONTWRITEBYTECODE (set on the machines this project is built on) also stops pytest keeping the test
# modules it rewrote for assertions (tests/**/__pycache__, git-ignored): every pytest process then rewrites
# all 216 of them again, ~5 s of CPU per xdist worker (the fast tier: 100 -> 92 s of CPU, 60 -> 56 s wall).
PYTEST := PYTHONDONTWRITEBYTECODE= $(BIN)/python -m pytest -q -p no:cacheprovider
# Workers for the full suite (pytest-xdist); XDIST=0 runs it in one process. One per core: about a third of the
# parallel part waits on servers, and `XDIST=3` on 2 cores was faster, but the parallel part holds tests that
# compare timings with a tolerance (the LLM probe's stream gaps), which a third worker on 2 cores can push out.
XDIST  ?= auto
# worksteal: an idle worker takes queued tests from a busy one, so a late long test does not leave a core idle.
DIST   ?= worksteal

# The full suite, what CI runs: real promtool, Prometheus, Alertmanager, Chromium. In parallel, then the
# tests marked serial (they measure time or load) alone; both parts always run, and either failing fails.
test: $(VENV)/.test-deps tools
	@# Bytecode for the package, once: where PYTHONDONTWRITEBYTECODE is set (the machines this project is built on set it), every
	@# promspec process the suite starts would otherwise compile ~170 modules from source (0.15 s of a 1.1 s generate).
	$(BIN)/python -m compileall -q gen/promspec >/dev/null
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	@status=0; \
	$(PYTEST) -n $(XDIST) --dist $(DIST) -m "not serial" tests || status=$$?; \
	$(PYTEST) -m serial tests || status=$$?; \
	exit $$status

# The fast tier: no subprocess, no server, no tools to install (tests/conftest.py fails a test that tries).
# On the xdist workers too. Property tests draw a quarter of their examples here (tests/hypothesis_budget.py);
# 1,256 tests, 2 December 2026: ~70 s of CPU at load 3-5 where main took ~99-113 (docs/benchmarks-history.md, "fast").
.PHONY: test-fast
test-fast: $(VENV)/.test-deps
	$(PYTEST) -n $(XDIST) -m "not slow" tests

$(VENV)/.lint-deps: $(BIN)/promspec
	$(BIN)/pip install -q -e '.[test,lint]'
	@touch $@

# The same checks run first in `make test` (docs/DEVELOPING.md).
.PHONY: lint
lint: $(VENV)/.lint-deps
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

clean:
	rm -rf $(VENV) build gen/*.egg-info

# Every benchmark in docs/BENCHMARKS.md, each with the one command its section names (each also runs
# alone). Each is cut off at its own bound, so the whole target ends within 190 minutes (the sum);
# on a quiet 2-core machine it should take about 60. bench-quick runs the smallest configuration of each
# (a smoke test of the scripts, 5-8 minutes at load 3-10, figures meaningless).
.PHONY: bench bench-quick
BENCH := nice -n 10 timeout
bench: $(VENV)/.test-deps tools
	$(BENCH) 900 $(BIN)/python bench/generate.py --runs 2 --sizes 100,1000
	$(BENCH) 600 $(BIN)/python bench/dashboards.py
	$(BENCH) 600 $(BIN)/python bench/validation.py
	$(BENCH) 900 $(BIN)/python bench/exporter.py
	$(BENCH) 300 $(BIN)/python bench/exporter.py --load
	$(BENCH) 300 $(BIN)/python bench/probe_overhead.py --targets 10 --seconds 60
	$(BENCH) 3600 $(BIN)/python bench/slo_peers.py
	$(BENCH) 2700 $(BIN)/python bench/slo_eval.py
	$(BENCH) 900 $(BIN)/python bench/check_slos.py --runs 1
	$(BENCH) 600 $(BIN)/python bench/fleet.py --slos 100 --clusters 2 --days 1 --seconds 90

bench-quick: $(VENV)/.test-deps tools
	$(BENCH) 300 $(BIN)/python bench/generate.py --runs 1 --sizes 10
	$(BENCH) 300 $(BIN)/python bench/dashboards.py --runs 1 --synthetic 5
	$(BENCH) 300 $(BIN)/python bench/validation.py --runs 1 --counts 10
	$(BENCH) 300 $(BIN)/python bench/exporter.py --scrapes 50 --rounds 1 --cpus 16
	$(BENCH) 120 $(BIN)/python bench/exporter.py --load --load-seconds 2
	$(BENCH) 120 $(BIN)/python bench/probe_overhead.py --targets 2 --seconds 15
	$(BENCH) 300 $(BIN)/python bench/slo_peers.py --pods 5 --days 3 --repeats 1
	$(BENCH) 600 $(BIN)/python bench/slo_eval.py --quick
	$(BENCH) 300 $(BIN)/python bench/check_slos.py --runs 1 --counts 1
	$(BENCH) 300 $(BIN)/python bench/fleet.py --slos 5 --clusters 2 --days 0.1 --seconds 20
