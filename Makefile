# Two commands on a fresh machine: `make generate` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
SPECS  ?= specs
OUT    ?= .

.PHONY: generate check test venv clean

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
	$(BIN)/promspec schema -o schemas --check
	$(BIN)/promspec check $(OUT)

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
	@# The Probe end-to-end test runs Debian's blackbox_exporter against local HTTP servers.
	@if ! command -v prometheus-blackbox-exporter >/dev/null; then \
	  echo "installing Debian's prometheus-blackbox-exporter"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends \
	    prometheus-blackbox-exporter >/dev/null; \
	fi

test: $(VENV)/.test-deps tools
	$(BIN)/python -m pytest -q -p no:cacheprovider tests

clean:
	rm -rf $(VENV) build gen/*.egg-info
