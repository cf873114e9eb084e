# FleetMon. `make run` starts everything with a simulated fleet; `make test` runs the suite.
.DEFAULT_GOAL := help
.PHONY: help setup services run test lint bench

help: ## list the targets
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-9s %s\n", $$1, $$2}'

setup: ## create .venv with the pinned requirements
	@scripts/bootstrap.sh

services: ## start (or reuse) TimescaleDB and Redis
	@scripts/services.sh

run: setup ## install, start services, migrate, seed a demo fleet and run web, worker, beat, live simulator
	@scripts/run.sh

test: setup ## run the whole test suite (starts what it needs)
	@scripts/test.sh

lint: setup ## ruff and the migrations check
	@.venv/bin/ruff check . && .venv/bin/ruff format --check . && .venv/bin/python manage.py makemigrations --check --dry-run

bench: setup ## run the benchmarks and print their figures
	@scripts/bench.sh
