# The two commands of the README: `make demo` and `make test`. Both set up what they need first.
VENV := .venv
BIN := $(VENV)/bin

.PHONY: setup demo test lint typecheck unit clean

setup:
	@scripts/bootstrap.sh
	@# Bytecode, as a regular pip install writes it: the CLI starts ~70 ms faster (an editable
	@# install has none, and PYTHONDONTWRITEBYTECODE may keep Python from caching it).
	@$(BIN)/python -m compileall -q cardkit >/dev/null

demo: setup
	@PATH="$(CURDIR)/$(BIN):$$PATH" scripts/demo.sh

test: setup lint typecheck unit

lint:
	$(BIN)/ruff check cardkit tests scripts benchmarks
	$(BIN)/ruff format --check cardkit tests scripts benchmarks

typecheck:
	$(BIN)/mypy --strict cardkit

unit:
	$(BIN)/pytest

clean:
	rm -rf out .pytest_cache .mypy_cache .ruff_cache .hypothesis
