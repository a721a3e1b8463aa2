# Two commands on a fresh machine: `make serve` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: serve test lint bench bench-growth demo clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	$(BIN)/pip install -q -e '.[test]'
	touch $@

serve: $(VENV)/.installed
	$(BIN)/paymux serve

test: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/pytest -q

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .

# Starts paymux (SQLite, PostgreSQL + Redis with 1 and 2 workers), loads every scenario
# with wrk and writes the table into docs/performance.md (≈ 15 minutes; see bench/run.py).
bench: $(VENV)/.installed-test
	$(BIN)/python -m bench.run

# Create, query and list with 0, 1 M and 5 M stored orders (≈ 20 minutes; bench/growth.py).
bench-growth: $(VENV)/.installed-test
	$(BIN)/python -m bench.growth

clean:
	rm -rf $(VENV) paymux-data .pytest_cache

demo: $(VENV)/.installed
	$(BIN)/paymux demo
