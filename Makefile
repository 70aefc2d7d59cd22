# The two set-up commands of the README: `make run` and `make test`. Both build the virtual
# environment first when requirements.txt is newer than it.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# A clearly-marked development secret; production sets its own (see README).
DEV_ENV := DJANGO_DEBUG=true

.PHONY: run test lint migrate clean test-pgbouncer collectstatic serve check-deploy bench bench-reminders fuzz soak

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

migrate: $(VENV)/.installed
	$(DEV_ENV) $(PY) manage.py migrate --noinput

# The web server, a worker and its scheduler (Procfile.dev, run by honcho), on SQLite and the
# embedded broker unless DATABASE_URL / REDIS_URL say otherwise. var/dev.env holds the development
# settings (made once, kept between runs).
run: migrate var/dev.env
	PATH="$(VENV)/bin:$$PATH" $(VENV)/bin/honcho -f Procfile.dev -e var/dev.env start --port $(or $(PORT),8000)

# With a development VAPID key pair for Web Push, kept with the file (a new key would orphan the
# browsers' subscriptions).
var/dev.env: | $(VENV)/.installed
	mkdir -p var
	echo "$(DEV_ENV)" > $@.tmp
	$(DEV_ENV) $(PY) manage.py generate_vapid_keys --env >> $@.tmp
	mv $@.tmp $@

# The suite runs in parallel (pytest-xdist), one process per core up to TEST_PROCESSES (default 2).
test: $(VENV)/.installed
	$(PY) -m pytest -n $(or $(TEST_PROCESSES),2) $(PYTEST_ARGS)

# The API tests through a local PgBouncer in transaction mode (as CI does; needs Debian's pgbouncer,
# which the script installs when it is missing, and PostgreSQL at 127.0.0.1:5432).
test-pgbouncer: $(VENV)/.installed
	.ci/with-pgbouncer $(or $(PGBOUNCER_DB),todo_pgbouncer) $(MAKE) test PYTEST_ARGS="--create-db accounts tasks"

# Production-style serving on this machine (DJANGO_SECRET_KEY and BETTER_AUTH_SECRET must be set):
# the build step, then the Procfile's web process.
collectstatic: $(VENV)/.installed
	$(PY) manage.py collectstatic --noinput -v0

serve: collectstatic
	PATH="$(VENV)/bin:$$PATH" $(VENV)/bin/gunicorn --config gunicorn.conf.py todo_project.wsgi:application

check-deploy: $(VENV)/.installed
	$(PY) manage.py check --deploy --fail-level WARNING

# Throughput, latency, server CPU, memory and scale against a DRF floor and a bare floor
# (bench/README.md): creates and seeds a PostgreSQL database (BENCH_DB, default bench_todo at
# 127.0.0.1:5432), serves it with gunicorn, loads it with wrk (installed from Debian when missing) and
# writes bench/results/<date>.md. About 15 minutes on 2 cores. BENCH_ARGS adds options.
bench: $(VENV)/.installed
	@command -v wrk >/dev/null 2>&1 || { \
		if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq wrk; \
		else sudo apt-get update -qq && sudo apt-get install -y -qq wrk; fi; }
	$(PY) -m pip install --quiet -r bench/requirements.txt
	$(PY) bench/run.py --database $(or $(BENCH_DB),bench_todo) $(BENCH_ARGS)

# 10,000 reminders falling due at once, two Celery workers (Redis db 5 at 127.0.0.1:6379), a
# database of its own on 127.0.0.1:5432 and a local push service; writes bench/results/REMINDERS.md.
bench-reminders: $(VENV)/.installed
	$(PY) bench/reminders.py $(BENCH_ARGS)

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

clean:
	rm -rf $(VENV) staticfiles .pytest_cache

# The long forms of the reliability suites CI runs briefly (reliability/README.md).
# Schema fuzzing, thousands of generated requests per operation, on DATABASE_URL when set (else
# SQLite); writes reliability/results/FUZZ.md. FUZZ_ARGS adds options, e.g. "--examples 3000 --seed 42".
fuzz: $(VENV)/.installed
	$(PY) -m reliability.fuzz $(FUZZ_ARGS)

# Five minutes of load on gunicorn with PostgreSQL restarted under it (a throwaway cluster made with
# initdb, never the shared server); writes reliability/results/SOAK.md. SOAK_ARGS adds options.
soak: $(VENV)/.installed
	$(PY) -m reliability.soak $(SOAK_ARGS)
