# permit-gateway — the two commands of the README, and what they need.
# Every target builds .venv itself when it is missing: a fresh Debian machine needs only python3.

PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SOURCES := $(shell find gateway adapters permitgw policies protos -type f \( -name '*.py' -o -name '*.proto' -o -name '*.conf' -o -name '*.csv' -o -name '*.toml' \) 2>/dev/null) pyproject.toml

.PHONY: demo test test-no-postgres lint protos venv install clean bench browser haproxy

venv: $(BIN)/python
$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# The project is installed NON-editable, so every test run also proves the wheel carries what it needs
# (generated code, policies, default configuration).
$(STAMP): $(BIN)/python $(SOURCES)
	rm -rf build *.egg-info  # setuptools would otherwise put modules deleted from the tree back into the wheel
	$(BIN)/python -m pip install -q ".[dev]"
	$(BIN)/python -m pip install -q --no-deps --force-reinstall .
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/permitgw demo

# ruff, mypy (pyproject [tool.mypy]), the import layers (lint-imports, pyproject [tool.importlinter]), then
# everything, PostgreSQL backend included (needs PostgreSQL at 127.0.0.1:5432, see README): what CI runs.
test: $(STAMP) browser haproxy
	$(BIN)/ruff check gateway adapters tests bench tools
	$(BIN)/mypy
	$(BIN)/lint-imports --no-logo --no-cache
	$(BIN)/pytest -q -p no:cacheprovider --import-mode=importlib tests

# Everything except the tests marked `postgres`, for a machine without PostgreSQL.
test-no-postgres: $(STAMP) browser
	$(BIN)/ruff check gateway adapters tests bench tools
	$(BIN)/mypy
	$(BIN)/lint-imports --no-logo --no-cache
	$(BIN)/pytest -q -p no:cacheprovider --import-mode=importlib -m "not postgres" tests

# The console's browser tests drive Debian's chromium (Playwright cannot fetch its own browser here). Installed
# when missing and we are root; otherwise the tests say what to install.
# A Chinese font too, so the console's pages (Chinese by default) render legibly in its screenshots; and NSS's
# tools, with which a test imports an issued PKCS#12 as Chromium does.
BROWSER_PACKAGES := chromium fonts-wqy-microhei libnss3-tools
browser:
	@(command -v chromium >/dev/null 2>&1 && [ -e /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ] && \
	  command -v pk12util >/dev/null 2>&1) || \
	  [ "$$(id -u)" != 0 ] || (apt-get install -y -q $(BROWSER_PACKAGES) >/dev/null || \
	  (apt-get update -q >/dev/null && apt-get install -y -q $(BROWSER_PACKAGES) >/dev/null))

# The replicas' load-balancer test runs Debian's HAProxy on docs/examples/haproxy.cfg: installed like chromium.
haproxy:
	@command -v haproxy >/dev/null 2>&1 || [ -x /usr/sbin/haproxy ] || [ "$$(id -u)" != 0 ] || \
	  (apt-get install -y -q haproxy >/dev/null || (apt-get update -q >/dev/null && apt-get install -y -q haproxy >/dev/null))

protos: $(BIN)/python
	$(BIN)/python -m pip install -q "grpcio-tools==1.85.1"
	$(BIN)/python tools/genprotos.py

# Benchmarks at their default sizes (minutes); `make bench ARGS=--full` for the sizes docs/benchmarks.md reports.
bench: $(STAMP)
	$(BIN)/python bench/run_all.py $(ARGS)

clean:
	rm -rf $(VENV) build dist *.egg-info
