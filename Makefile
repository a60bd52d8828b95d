# Loket: the two commands are `make run` and `make test` (see README.md).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
STAMP := $(VENV)/.installed-stamp
# Daphne's access log records every client's IP address (personal data): off unless asked for.
ACCESS_LOG ?= /dev/null

export LOKET_DEV_SECRET_FILE ?= var/secret

.PHONY: run test install lint types unit schema messages clean demo-passwords

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Loket needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo
	@echo "Starting Loket on http://$(HOST):$(PORT)/ ..."
	@LOKET_READY_MESSAGE="Loket is ready: http://$(HOST):$(PORT)/ (applicant), /counselor/ (counselor console), /supervisor/ (live board), /transcripts/ (transcripts). Stop with Ctrl+C." \
	$(VENV)/bin/daphne -b $(HOST) -p $(PORT) --access-log $(ACCESS_LOG) config.asgi:application

# New passwords for the demo accounts (konselor1, konselor2, supervisor), printed once.
demo-passwords: $(STAMP)
	$(PY) manage.py seed_demo --reset-passwords

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports --no-cache --no-logo

types: $(STAMP)
	$(VENV)/bin/mypy consult signaling config

schema: $(STAMP)
	$(PY) manage.py protocol_schema --check

unit: $(STAMP)
	$(PY) -m pytest -rs

test: lint types schema unit

messages: $(STAMP)
	$(PY) manage.py makemessages -l id -l en --ignore '.venv/*' --ignore 'bench/*' --ignore 'tests/*'
	$(PY) manage.py makemessages -d djangojs -l id -l en --ignore '.venv/*' --ignore 'var/*'
	$(PY) manage.py compilemessages --ignore '.venv/*'

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache
