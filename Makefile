# One command per job; CI (.ci/run), pre-commit and people all use these.
PYTHON ?= python3
VENV ?= .venv
# uv (installed into the venv) or pip; setup falls back to pip when uv cannot be had.
INSTALLER ?= uv
BIN := $(VENV)/bin
LINTER := tests/cypher_lint/node_modules/.package-lock.json
FIXTURES := fixtures/crm.csv fixtures/pos.csv fixtures/web.jsonl fixtures/email.jsonl
AS_OF ?= 2026-11-01

.PHONY: setup browser screenshots demo demo-neo4j test-neo4j fmt lint typecheck test bench docs check clean

setup: $(BIN)/idgraph $(LINTER)

$(BIN)/idgraph: pyproject.toml scripts/setup-venv.sh
	@PYTHON='$(PYTHON)' VENV='$(VENV)' INSTALLER='$(INSTALLER)' sh scripts/setup-venv.sh
	@touch $@

$(LINTER): tests/cypher_lint/package.json tests/cypher_lint/package-lock.json
	@echo "setup: installing Neo4j's Cypher linter for the tests (npm ci in tests/cypher_lint)"
	npm ci --prefix tests/cypher_lint --no-audit --no-fund --loglevel=error

# The browser tests drive the system's Chromium (Debian package `chromium`), not a downloaded one.
browser:
	@sh scripts/setup-chromium.sh

demo: $(BIN)/idgraph
	$(BIN)/idgraph ingest $(FIXTURES) --default-region IT --as-of $(AS_OF)
	$(BIN)/idgraph segment run fixtures/segments/lapsed_high_spenders.yaml --as-of $(AS_OF)

# Neo4j (docker-compose.yml): `docker compose up -d --wait`, then export the .env, e.g.
# `set -a; . ./.env; set +a`. See docs/neo4j.md.
NEO4J_URL ?= bolt://localhost:7687

demo-neo4j: $(BIN)/idgraph
	$(BIN)/idgraph schema apply --store $(NEO4J_URL)
	$(BIN)/idgraph ingest $(FIXTURES) --default-region IT --as-of $(AS_OF) --store $(NEO4J_URL)
	$(BIN)/idgraph segment run fixtures/segments/lapsed_high_spenders.yaml --as-of $(AS_OF) \
		--store $(NEO4J_URL)

# Live tests against a DISPOSABLE Neo4j database: IDGRAPH_TEST_NEO4J=bolt://... make test-neo4j
test-neo4j: $(BIN)/idgraph
	$(BIN)/pytest -q -m neo4j tests/neo4j

fmt: $(BIN)/idgraph
	$(BIN)/ruff format idgraph tests bench scripts
	$(BIN)/ruff check --fix idgraph tests bench scripts

lint: $(BIN)/idgraph
	$(BIN)/ruff check idgraph tests bench scripts
	$(BIN)/ruff format --check idgraph tests bench scripts

typecheck: $(BIN)/idgraph
	$(BIN)/mypy

# The suite runs on TEST_WORKERS processes (pytest-xdist), each test file whole on one of them
# so that its fixtures are built once; TEST_WORKERS=0 runs it in one process.
TEST_WORKERS ?= 2

test: setup browser
	$(BIN)/pytest -q -n $(TEST_WORKERS) --dist loadfile

bench: $(BIN)/idgraph
	$(BIN)/python bench/ingest_speed.py

docs: $(BIN)/idgraph
	$(BIN)/python scripts/cli_docs.py

# The report's and the web page's pictures in docs/images/, made from the fixtures.
screenshots: setup browser
	$(BIN)/python scripts/screenshots.py

check: lint typecheck test

clean:
	rm -rf $(VENV) tests/cypher_lint/node_modules idgraph.db idgraph.db.wal idgraph-rejects.jsonl
