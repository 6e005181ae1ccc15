# `make run` and `make test` each create .venv and install what they need on first use.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
# The CPU build of this version lies on the developer and CI machines; on GPU hosts pick the
# matching CUDA build, e.g. TORCH_SPEC="torch==2.13.0 --index-url https://download.pytorch.org/whl/cu128".
TORCH_SPEC ?= torch==2.13.0
STAMP := $(VENV)/.installed
# The clients' tooling (the JavaScript SDK's dev tools, newman, playwright-core) from the npm registry.
NODE_STAMP := node_modules/.installed

.PHONY: run test check pytest clients clean

$(STAMP): pyproject.toml Makefile
	@command -v $(PYTHON) >/dev/null || { echo "Python 3.11 is required ($(PYTHON) not found; set PYTHON=...)"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(TORCH_SPEC)
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

run: $(STAMP)
	$(BIN)/ncrsh serve

test: check pytest clients

check: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .
	$(BIN)/python manage.py makemigrations --check --dry-run
	$(BIN)/python manage.py spectacular --validate --fail-on-warn --file /dev/null

pytest: $(STAMP)
	$(BIN)/pytest

$(NODE_STAMP): package.json package-lock.json sdk/js/package.json
	@command -v npm >/dev/null || { echo "Node.js 20+ and npm are required for the clients' tests (apt-get install nodejs npm)"; exit 1; }
	npm ci --no-audit --no-fund
	@touch $(NODE_STAMP)

# The JavaScript SDK (against a live server), the Postman collection (newman) and the web console
# (headless Chromium: Debian's chromium package) — each test starts its own `ncrsh serve`.
clients: $(STAMP) $(NODE_STAMP)
	NCRSH_BIN=$(abspath $(BIN)) npm test

clean:
	rm -rf $(VENV) var node_modules .pytest_cache .mypy_cache .ruff_cache
