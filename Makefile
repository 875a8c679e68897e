# gridgov — two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: run test bench install assets migrate lint format clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

install: $(STAMP)

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# Front-end libraries come from npm and are copied into gridgov/static/dist (git-ignored).
assets: node_modules/.installed
	npm run --silent build

migrate: install
	$(PY) manage.py migrate --noinput

## make run: install, build assets, migrate, seed a demo county if empty, start web + worker + beat.
run: install assets migrate
	$(PY) manage.py seed_demo --scale demo --if-empty
	$(PY) manage.py runall

## make test: the whole suite. PostgreSQL/Redis from DATABASE_URL / CELERY_BROKER_URL when set.
test: install assets
	DJANGO_SETTINGS_MODULE=gridgov.settings.test $(PY) manage.py makemigrations --check --dry-run
	$(VENV)/bin/ruff check .
	$(VENV)/bin/pytest $(PYTEST_ARGS)

## make bench: county-scale benchmarks on PostgreSQL; figures go to docs/benchmarks.md.
bench: install
	$(PY) -m bench.run $(BENCH_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

clean:
	rm -rf $(VENV) node_modules gridgov/static/dist var
