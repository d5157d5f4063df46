# Two commands do all setup: `make start` (install what is missing, start the workbench) and
# `make test` (install what is missing, run lint, type check and tests). CI runs `make test`.
.PHONY: start test

ARGS ?=
PYTEST_ARGS ?=

start:
	bash .ci/bootstrap.sh run
	.venv/bin/python app.py $(ARGS)

test:
	bash .ci/bootstrap.sh test
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy
	.venv/bin/python -m pytest $(PYTEST_ARGS)
