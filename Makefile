# The README's two commands: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
PYTEST_ARGS ?=
# WeasyPrint renders with Pango; libharfbuzz-subset0 makes its font subsetting ~4x faster.
SYSTEM_PACKAGES := libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core
# Debian's Chromium runs the browser tests (Playwright drives it; no browser download).
TEST_PACKAGES := $(SYSTEM_PACKAGES) chromium

.PHONY: run up smoke test bench bench-explain soak lint audit fmt messages install system-deps test-deps clean

install: $(VENV)/.installed

# pip's own narration goes to var/install.log, shown only when the install fails.
$(VENV)/.installed: pyproject.toml constraints.txt
	@echo "Installing into $(VENV) (a minute the first time)..."
	@mkdir -p var
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@{ $(BIN)/python -m pip install -q --upgrade pip && \
	  $(BIN)/python -m pip install -q -c constraints.txt -e ".[dev]"; } >var/install.log 2>&1 \
	  || { cat var/install.log; exit 1; }
	@touch $@

# Installs the missing Debian packages of $(1) when root; otherwise says which are missing.
define apt_install
	@missing=""; \
	for pkg in $(1); do \
	  dpkg-query -W -f='$${Status}' $$pkg 2>/dev/null | grep -q "ok installed" || missing="$$missing $$pkg"; \
	done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "Installing system packages:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	else \
	  echo "Please install the system packages:$$missing (sudo apt-get install$$missing)"; \
	fi
endef

system-deps:
	$(call apt_install,$(SYSTEM_PACKAGES))

test-deps:
	$(call apt_install,$(TEST_PACKAGES))

# Links in the e-mails the demo prints point at the port it serves on.
run: export SITE_URL ?= http://127.0.0.1:$(PORT)
# runserver's advice against itself in production is for the production of `make up`.
run: export DJANGO_RUNSERVER_HIDE_WARNING = true
run: system-deps install
	@$(BIN)/python manage.py migrate --noinput -v0
	@$(BIN)/python manage.py seed_demo --url http://127.0.0.1:$(PORT)/
	@$(BIN)/python manage.py runserver --skip-checks 127.0.0.1:$(PORT)

# The whole stack as production runs it, on the real services: gunicorn, a Celery worker per
# queue, the outbox's dispatcher and beat (Procfile), under honcho; Ctrl-C stops them all.
# DEBUG off, the environment's DATABASE_URL, CELERY_BROKER_URL and SECRET_KEY or these
# defaults and a throwaway key; it checks the services first, migrates and collects the
# static files. honcho reads no .env: the settings do, under the environment. `make smoke`
# drives the running stack end to end (same variables, same PORT).
up smoke: export DEBUG = false
up smoke: export DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/sellercover
up smoke: export CELERY_BROKER_URL ?= redis://127.0.0.1:6379/0
up smoke: export ALLOWED_HOSTS ?= 127.0.0.1,localhost
up smoke: export SITE_URL ?= http://127.0.0.1:$(PORT)
# Plain HTTP on this machine: no TLS proxy in front for the redirect to reach.
up smoke: export SECURE_SSL_REDIRECT ?= false
# /metrics for a scraper on this machine (and the smoke); closed to others.
up smoke: export METRICS_ALLOWED_IPS ?= 127.0.0.1
THROWAWAY_KEY = $${SECRET_KEY:-$$($(PYTHON) -c 'import secrets; print(secrets.token_urlsafe(64))')}
up: system-deps install
	@export SECRET_KEY="$(THROWAWAY_KEY)"; \
	$(BIN)/python manage.py check_services && \
	$(BIN)/python manage.py migrate --noinput -v0 && \
	$(BIN)/python manage.py collectstatic --noinput -v0 && \
	PATH="$(CURDIR)/$(BIN):$$PATH" exec $(BIN)/honcho start --env /dev/null --port $(PORT)

smoke: install
	@SECRET_KEY="$(THROWAWAY_KEY)" $(BIN)/python manage.py smoke --url http://127.0.0.1:$(PORT)/

test: test-deps install lint audit
	$(BIN)/python manage.py makemigrations --check --dry-run
	@rc=0; $(BIN)/python -m pytest -n auto $(PYTEST_ARGS) || rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing" >&2; exit 1; fi; exit $$rc

# Benchmarks print figures; they run on PostgreSQL in a database of their own.
BENCH_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/sellercover_bench
BENCH_EVENTS ?= 200000
BENCH_ROWS ?= 1000000
BENCH_REPORT_ROWS ?= 200000
# The batch jobs are measured as production runs them: DEBUG off (Django then keeps no
# query log), a throwaway key. bench_ingest starts its servers so itself; bench_documents
# renders with the static files of the source tree, which DEBUG serves uncollected.
BENCH_OFF = DEBUG=false ALLOWED_HOSTS=localhost \
	SECRET_KEY=$$($(PYTHON) -c 'import secrets; print(secrets.token_urlsafe(64))')
bench: export DATABASE_URL = $(BENCH_DATABASE_URL)
bench: system-deps install
	createdb -h 127.0.0.1 -U postgres sellercover_bench 2>/dev/null || true
	$(BIN)/python manage.py migrate --noinput -v0
	$(BIN)/python manage.py seed_demo >/dev/null
	$(BIN)/python manage.py bench_ingest --events $(BENCH_EVENTS)
	$(BENCH_OFF) $(BIN)/python manage.py bench_reconcile --rows $(BENCH_ROWS)
	$(BENCH_OFF) $(BIN)/python manage.py bench_import --rows $(BENCH_ROWS)
	$(BIN)/python manage.py bench_documents --count 200
	$(BENCH_OFF) $(BIN)/python manage.py bench_report --rows $(BENCH_REPORT_ROWS)

# The soak: gunicorn, a Celery worker, beat and a Redis of its own (on another port than the
# shared one) under load, a Redis outage and a killed worker, then an audit of every
# invariant; it fails on any break or any 5xx. On a PostgreSQL database of its own.
SOAK_SECONDS ?= 60
SOAK_DATABASE ?= sellercover_soak
# E.g. "--port 8931 --redis-port 6393"; by default both are free ports the OS picks.
SOAK_ARGS ?=
soak: export DATABASE_URL = postgres://postgres@127.0.0.1:5432/$(SOAK_DATABASE)
soak: system-deps install
	createdb -h 127.0.0.1 -U postgres $(SOAK_DATABASE) 2>/dev/null || true
	$(BIN)/python manage.py migrate --noinput -v0
	$(BIN)/python manage.py soak --seconds $(SOAK_SECONDS) $(SOAK_ARGS)

# The hot queries' plans on a million claims and ten million events (bench_explain): it
# builds a database of its own, <bench database>_explain, made again each run (about
# 5 minutes on a 2-core machine), and prints each statement's verdict.
bench-explain: export DATABASE_URL = $(BENCH_DATABASE_URL)
bench-explain: install
	createdb -h 127.0.0.1 -U postgres sellercover_bench 2>/dev/null || true
	$(BIN)/python manage.py bench_explain

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Fails on a pinned dependency with a known vulnerability that a release fixes (PyPI's data).
audit: install
	$(BIN)/python .ci/audit_dependencies.py

fmt: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# After changing user-facing text: refresh locale/ru, translate the new entries, then compile.
messages: install
	$(BIN)/python manage.py makemessages -l ru --no-obsolete --ignore ".venv/*" --ignore "tests/*" --ignore "var/*"
	$(BIN)/python manage.py compilemessages -l ru --ignore ".venv/*"

clean:
	rm -rf $(VENV) db.sqlite3 var staticfiles .pytest_cache .ruff_cache .hypothesis *.egg-info
