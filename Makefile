# Two entry points, each doing its own set-up (see README.md):
#   make demo   network -> golden check -> RTL simulation -> bitstream + report
#   make test   the test suite
# Re-running is fast: the venv is rebuilt only when pyproject.toml changes. The train and
# qonnx extras are installed too (torch==2.13.0 is the CPU build), so their tests run.

VENV  ?= .venv
PY    := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
SUDO  := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: demo test tools examples

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[test,train,qonnx]'
	touch $@

# Icarus Verilog, Berkeley ABC (the unbounded PDR proofs) and the headless Chromium that
# the HTML report's test opens the page in are the tools pip cannot provide.
tools:
	@command -v iverilog >/dev/null || { \
	  echo "installing iverilog (Debian package)"; \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq iverilog; }
	@command -v berkeley-abc >/dev/null || { \
	  echo "installing berkeley-abc (Debian package)"; \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq berkeley-abc; }
	@command -v chromium-headless-shell >/dev/null || { \
	  echo "installing chromium-headless-shell (Debian package)"; \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium-headless-shell; }

demo: $(STAMP) tools
	$(VENV)/bin/popcorn build

# every shipped example on both boards (hours), then reports/summary.md and index.html
examples: $(STAMP) tools
	$(PY) benchmarks/build_examples.py --all
	$(PY) benchmarks/summary.py

# the tests on every core (pytest-xdist); each test builds in its own tmp_path
test: $(STAMP) tools
	$(VENV)/bin/pytest -n auto $(PYTEST_ARGS)
