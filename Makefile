.PHONY: run test lint bench

run:
	scripts/run

test:
	scripts/test

lint:
	scripts/setup test
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy
	.venv/bin/lint-imports --no-cache

bench:
	scripts/bench
