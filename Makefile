# Vigil — two commands: `make run` (app with demo data on http://127.0.0.1:8000) and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
HOST ?= 127.0.0.1
PORT ?= 8000
export DJANGO_SETTINGS_MODULE := config.settings

# DEBUG is off unless set (config/settings.py); these development targets turn it on.
run test migrate seed: export DEBUG ?= 1

.PHONY: run test lint format install install-dev migrate seed bench clean web worker sweeper beat

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

# Reinstall only when pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(PY)
	$(PIP) install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(PY)
	$(PIP) install --quiet -e '.[dev]'
	touch $(VENV)/.installed $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

run: install
	@$(PY) -m config.preflight --create-database
	$(PY) manage.py migrate --no-input
	DEBUG=$${DEBUG:-1} $(PY) manage.py seed_demo
	$(PY) manage.py collectstatic --no-input --verbosity 0
	HOST=$(HOST) PORT=$(PORT) $(VENV)/bin/honcho start

web:
	$(VENV)/bin/gunicorn config.wsgi:application --bind $(HOST):$(PORT) --workers 2 --timeout 60 --access-logfile - --logger-class config.redact.RedactingGunicornLogger
worker:
	$(VENV)/bin/celery -A config worker --loglevel INFO --concurrency 2 -Q celery,sla -n worker@%h
sweeper:
	$(VENV)/bin/celery -A config worker --loglevel INFO --concurrency 1 -Q sla -n sweeper@%h
beat:
	$(VENV)/bin/celery -A config beat --loglevel INFO

test: install-dev
	@$(PY) -m config.preflight --create-database
	@test -x /usr/bin/chromium || { echo "Browser tests need Debian's chromium: apt-get install -y chromium (.ci/run does it)."; exit 1; }
	@test -x /usr/bin/pdftotext || { echo "PDF tests need poppler: apt-get install -y poppler-utils (.ci/run does it)."; exit 1; }
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) manage.py makemigrations --check --dry-run
	DJANGO_SETTINGS_MODULE=config.settings_test $(VENV)/bin/pytest

lint: install-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install-dev
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

migrate: install
	$(PY) manage.py migrate --no-input

seed: install
	$(PY) manage.py seed_demo

bench: install-dev
	$(PY) bench/run.py

clean:
	rm -rf $(VENV) staticfiles
