# The two set-up commands of the README: `make run` and `make test`. Both build the virtual
# environment first when requirements.txt is newer than it.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# A clearly-marked development secret; production sets its own (see README).
DEV_ENV := DJANGO_DEBUG=true

.PHONY: run test lint migrate clean

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

migrate: $(VENV)/.installed
	$(DEV_ENV) $(PY) manage.py migrate --noinput

run: migrate
	$(DEV_ENV) $(PY) manage.py runserver 127.0.0.1:8000

test: $(VENV)/.installed
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

clean:
	rm -rf $(VENV) staticfiles .pytest_cache
