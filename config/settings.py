"""Settings for sellercover, read from the environment (12-factor).

With no environment at all the project runs on the embedded demo profile:
DEBUG on, a SQLite file, Celery tasks run eagerly in-process, e-mail to the
console. Every variable is listed in `.env.example`.
"""

import datetime as dt
import ipaddress
from pathlib import Path

import environ
import structlog
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# An optional .env beside manage.py; the environment itself always wins.
if (BASE_DIR / ".env").is_file():
    env.read_env(BASE_DIR / ".env")

DEBUG = env.bool("DEBUG", default=True)

# https://docs.djangoproject.com/en/5.2/ref/settings/#secret-key
DEV_SECRET_KEY = "django-insecure-development-only-never-used-with-debug-off"
SECRET_KEY = env("SECRET_KEY", default=DEV_SECRET_KEY if DEBUG else "")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"] if DEBUG else [])
if not DEBUG:
    if len(SECRET_KEY) < 50 or SECRET_KEY == DEV_SECRET_KEY:
        raise ImproperlyConfigured(
            "DEBUG is off: set SECRET_KEY to a random string of at least 50 characters."
        )
    if not ALLOWED_HOSTS:
        raise ImproperlyConfigured("DEBUG is off: set ALLOWED_HOSTS (comma-separated host names).")
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework_api_key",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "simple_history",
    "axes",
    "csp",
    "django_prometheus",
    "django_structlog",
    "policies",
    "claims",
]

MIDDLEWARE = [
    # /healthz, /readyz and /metrics, answered before the host check and the HTTPS redirect.
    "config.probes.ProbeMiddleware",
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    # Static files served by the app itself: no CDN, no separate web server needed.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    # Before anything reads the database (PostgreSQL cannot compare a NUL in a lookup), once
    # the language of its refusal is known.
    "policies.middleware.ControlCharactersMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Binds the request id (and user) to every log line of the request and its tasks.
    "django_structlog.middlewares.RequestMiddleware",
    "policies.middleware.RequestIdHeaderMiddleware",
    # Names the signed-in user on the history rows of what a request changes (admin and services).
    "simple_history.middleware.HistoryRequestMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as axes asks: it turns a sign-in refused for a lockout into the lockout page.
    "axes.middleware.AxesMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# https://django-environ.readthedocs.io/en/latest/types.html#environ-env-db-url
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=0)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Writers wait for each other instead of failing with "database is locked".
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 20
    # Tests in memory, as Django does for SQLite. Said outright: under the metrics backend
    # below, pytest-django no longer sees SQLite and would name a file per xdist worker
    # after this database's path.
    DATABASES["default"].setdefault("TEST", {}).setdefault("NAME", ":memory:")
    # Covering indexes (INCLUDE) are PostgreSQL's; SQLite keeps their key columns, which is
    # all an embedded demo's few rows need.
    SILENCED_SYSTEM_CHECKS = ["models.W040"]
else:
    # Random reads on SSD storage, the hot indexes in memory, cost about what sequential
    # ones do. At PostgreSQL's default of 4 (spinning disks) the planner answers a batch's
    # thousands of lookups by external id with a scan of the whole table, ten times slower.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault(
        "options", f"-c random_page_cost={env.float('PG_RANDOM_PAGE_COST', default=1.1)}"
    )
    # An unreachable database fails a request in seconds (a 503), before gunicorn's worker
    # timeout would kill it and reset the client's connection with no answer at all.
    DATABASES["default"]["OPTIONS"].setdefault(
        "connect_timeout", env.int("PG_CONNECT_TIMEOUT", default=5)
    )
# The same backends, counting queries, errors and connections for /metrics.
DATABASES["default"]["ENGINE"] = DATABASES["default"]["ENGINE"].replace(
    "django.db.backends.", "django_prometheus.db.backends."
)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# Seconds a client is told to wait when the database is out of reach (a 503's Retry-After).
DATABASE_RETRY_AFTER = env.int("DATABASE_RETRY_AFTER", default=15)

# https://django-simple-history.readthedocs.io/en/latest/admin.html
# The admin's history pages only show: a revert would write past the services' rules
# (a claim's state machine, terms in use).
SIMPLE_HISTORY_REVERT_DISABLED = True

AUTH_USER_MODEL = "policies.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Axes counts failed sign-ins (seller pages and admin alike) and refuses a locked one.
# https://django-axes.readthedocs.io/en/latest/4_configuration.html
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Each parameter counts on its own: the failures on one account from any number of
# addresses, and the failures from one address on any number of accounts. Counting the
# pair only would let an attacker spread guesses over addresses or over accounts.
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=10)
AXES_COOLOFF_TIME = dt.timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=30))
# A success must not wipe the address's count: one working account would then reset the
# guesses at all the others.
AXES_RESET_ON_SUCCESS = False
AXES_LOCKOUT_CALLABLE = "claims.pages.accounts.signin_locked_out"
# Both sign-in forms post the e-mail as "username" (Django's AuthenticationForm).
AXES_USERNAME_FORM_FIELD = "username"
# The password-reset limits count per client address as axes sees it, and per e-mail.
RATELIMIT_IP_META_KEY = "axes.helpers.get_client_ip_address"
PASSWORD_RESET_RATE_PER_ADDRESS = env("PASSWORD_RESET_RATE_PER_ADDRESS", default="10/h")
PASSWORD_RESET_RATE_PER_EMAIL = env("PASSWORD_RESET_RATE_PER_EMAIL", default="3/h")

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "seller:dashboard"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "ru"
LANGUAGES = [("ru", "Русский"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Europe/Moscow"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# In the demo profile assets come straight from the apps, no collectstatic needed.
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG
# Uploaded evidence and generated documents are private: no MEDIA_URL is
# served; files leave only through access-checked views.
PRIVATE_MEDIA_ROOT = env.path("PRIVATE_MEDIA_ROOT", default=BASE_DIR / "var" / "media")
STORAGES = {
    "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(PRIVATE_MEDIA_ROOT)},
    },
    # Where archive_evidence moves old claims' evidence, with a manifest per claim: cheaper,
    # colder storage in production (any Django storage backend).
    "evidence_archive": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {
            "location": str(env.path("EVIDENCE_ARCHIVE_ROOT", default=BASE_DIR / "var" / "archive"))
        },
    },
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage",
    },
}

# Throttling counters live here: use Redis when several processes serve the API.
# https://django-environ.readthedocs.io/en/latest/types.html#environ-env-cache-url
CACHES = {"default": env.cache_url("CACHE_URL", default="locmemcache://")}

# https://django-environ.readthedocs.io/en/latest/types.html#environ-env-email-url
# Without a mail server the letters are written to var/mail/, one file each, to read there.
EMAIL = env.email_url("EMAIL_URL", default="filemail://")
EMAIL_BACKEND = EMAIL["EMAIL_BACKEND"]
EMAIL_FILE_PATH = env.path("EMAIL_FILE_PATH", default=BASE_DIR / "var" / "mail")
EMAIL_HOST = EMAIL.get("EMAIL_HOST", "localhost")
EMAIL_PORT = EMAIL.get("EMAIL_PORT", 25)
EMAIL_HOST_USER = EMAIL.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = EMAIL.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = EMAIL.get("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = EMAIL.get("EMAIL_USE_SSL", False)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="sellercover <noreply@sellercover.local>")
# Where the seller pages live, for links in e-mails sent by background tasks.
SITE_URL = env("SITE_URL", default="http://127.0.0.1:8000")
# Reconciliation works through this many chunks at once, each on a database
# connection of its own (PostgreSQL only): one per core the database can use.
RECONCILIATION_WORKERS = env.int("RECONCILIATION_WORKERS", default=2)

# The insurer named as issuer in the header of every generated document.
INSURER_NAME = env("INSURER_NAME", default="АО «Страховая компания „Селлерковер“»")
# The insurer's bank account, shown to a seller who owes a recovery back. The defaults are
# the demo's made-up details: production sets its own.
INSURER_PAYMENT_DETAILS = {
    "recipient": env("INSURER_PAYMENT_RECIPIENT", default=INSURER_NAME),
    "tax_id": env("INSURER_PAYMENT_TAX_ID", default="7700000000"),
    "kpp": env("INSURER_PAYMENT_KPP", default="770001001"),
    "bank": env("INSURER_PAYMENT_BANK", default="АО «Демобанк», г. Москва"),
    "bic": env("INSURER_PAYMENT_BIC", default="044525000"),
    "account": env("INSURER_PAYMENT_ACCOUNT", default="40701810000000000001"),
    "correspondent_account": env(
        "INSURER_PAYMENT_CORRESPONDENT_ACCOUNT", default="30101810000000000000"
    ),
}

# Celery: with no broker configured, tasks run eagerly in the calling process.
# https://docs.celeryq.dev/en/stable/userguide/configuration.html
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="") or "memory://"
CELERY_TASK_ALWAYS_EAGER = env.bool(
    "CELERY_TASK_ALWAYS_EAGER", default=CELERY_BROKER_URL == "memory://"
)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
# A task is acknowledged after it ran, so a killed worker's task runs again;
# every task is written to be safe to repeat.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# A task whose worker died unacknowledged goes back to the queue after this many seconds
# (Redis transport); the sweep settings say how often workers look for such tasks. A task
# still running then is delivered a second time: none may hold its message that long, so
# long tasks go in slices (LONG_TASK_SLICE_SECONDS below).
# https://docs.celeryq.dev/en/stable/getting-started/backends-and-brokers/redis.html#redis-visibility-timeout
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=300),
    "unacked_restore_interval": env.int("CELERY_UNACKED_RESTORE_INTERVAL", default=10),
    "unacked_restore_throttle": env.int("CELERY_UNACKED_RESTORE_THROTTLE", default=10),
}
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = TIME_ZONE
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A request publishes its follow-ups after its commit; with the broker down it gives up
# within about a second and leaves them to the outbox's sweep, instead of hanging.
CELERY_BROKER_CONNECTION_TIMEOUT = env.float("CELERY_BROKER_CONNECTION_TIMEOUT", default=2.0)
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 2,
    "interval_start": 0,
    "interval_step": 0.3,
    "interval_max": 0.5,
}

# The outbox (policies/outbox.py): a row not sent within the grace (its commit's dispatch
# failed) or sent but not finished within the redispatch time (its worker died) is sent
# again by the sweep, at most OUTBOX_MAX_ATTEMPTS times; finished rows are kept a week.
OUTBOX_GRACE = dt.timedelta(seconds=env.int("OUTBOX_GRACE_SECONDS", default=10))
OUTBOX_REDISPATCH_AFTER = dt.timedelta(
    seconds=env.int("OUTBOX_REDISPATCH_AFTER_SECONDS", default=600)
)
OUTBOX_MAX_ATTEMPTS = env.int("OUTBOX_MAX_ATTEMPTS", default=10)
OUTBOX_RETENTION = dt.timedelta(days=env.int("OUTBOX_RETENTION_DAYS", default=7))

# Data that grows (policies/partitions.py, the commands event_partitions, archive_evidence):
# the beat job keeps the shipment events' monthly partitions made this many months ahead;
# event_partitions removes those older than the retention (never one holding events of an
# open claim); archive_evidence moves the evidence of claims closed longer than its
# retention to the archive storage below.
EVENT_PARTITIONS_AHEAD_MONTHS = env.int("EVENT_PARTITIONS_AHEAD_MONTHS", default=3)
EVENT_RETENTION_MONTHS = env.int("EVENT_RETENTION_MONTHS", default=25)
EVIDENCE_RETENTION_DAYS = env.int("EVIDENCE_RETENTION_DAYS", default=3 * 365)

# Long tasks (reconciliation runs, report imports; claims/long_tasks.py) work this long,
# plus the chunk under way, then queue their continuation: well inside the visibility
# timeout. One whose heartbeat (a chunk's commit) stopped for the stale time lost its
# worker, and the sweep on the beat schedule resumes it.
LONG_TASK_SLICE_SECONDS = env.float("LONG_TASK_SLICE_SECONDS", default=120.0)
LONG_TASK_STALE_AFTER = dt.timedelta(seconds=env.int("LONG_TASK_STALE_AFTER_SECONDS", default=300))

# --- Queues, routes and time limits (issue 20) ---
# Each kind of work has a queue, and a worker of its own in the Procfile, so a backlog of one
# (a night's reconciliation, a month's bordereaux, a marketplace's endpoint timing out) never
# delays another (a seller's claim waiting for triage). `outbox` takes only the outbox's
# sweep: it hands every other queue the work that missed its first dispatch, so it must not
# wait behind any of them. `default` takes the scheduled housekeeping and anything not routed.
TASK_QUEUES = ("interactive", "documents", "webhooks", "imports", "reconciliation", "outbox")
CELERY_TASK_DEFAULT_QUEUE = "default"
# Declared with the exchange and key Celery gives a queue it creates itself, so a producer
# configured with nothing but the queue's name reaches the same queue.
CELERY_TASK_QUEUES = {
    name: {"exchange": name, "routing_key": name}
    for name in (*TASK_QUEUES, CELERY_TASK_DEFAULT_QUEUE)
}
# Task: (queue, soft, hard time limit in seconds). The soft limit raises in the task (its
# transaction rolls back, its outbox row stays open for the sweep to send again); the hard
# one kills the pool process. Each hard limit stays under the broker's visibility timeout
# (300 s by default): a task still running then would be handed to a second worker. Batches
# (1,000 claims filed at once, 500 e-mails, 1,000 acknowledgements) set the larger limits;
# every task works item by item, so one cut short goes on from what it had done.
TASK_LIMITS = {
    "claims.tasks.claims_triage_task": ("interactive", 120, 150),
    "claims.tasks.claim_pay_task": ("interactive", 60, 90),
    "claims.tasks.claims_pay_task": ("interactive", 180, 210),
    "claims.tasks.claims_status_notify_task": ("interactive", 120, 150),
    "claims.tasks.claim_acknowledgement_make_task": ("documents", 240, 270),
    "claims.tasks.settlement_act_make_task": ("documents", 60, 90),
    "claims.tasks.rejection_letter_make_task": ("documents", 60, 90),
    "claims.tasks.reconciliation_report_make_task": ("documents", 240, 270),
    "claims.tasks.bordereaux_make_task": ("documents", 240, 270),
    "claims.tasks.bordereaux_monthly_task": ("documents", 240, 270),
    "policies.tasks.policy_certificate_make_task": ("documents", 60, 90),
    # One POST with a 5 s timeout; the due retries work for a slice, then the next beat.
    "claims.tasks.webhook_deliver_task": ("webhooks", 30, 45),
    "claims.tasks.webhooks_retry_due_task": (
        "webhooks",
        LONG_TASK_SLICE_SECONDS + 30,
        LONG_TASK_SLICE_SECONDS + 60,
    ),
    # A slice, plus the chunk under way, then the continuation is queued.
    "claims.tasks.report_import_run_task": (
        "imports",
        LONG_TASK_SLICE_SECONDS + 60,
        LONG_TASK_SLICE_SECONDS + 90,
    ),
    "claims.tasks.reconciliation_run_task": ("reconciliation", 60, 90),
    # A chunk cut short fails its run (reconciliation_fail): its limit is several times
    # what a chunk of 200,000 records takes.
    "claims.tasks.reconciliation_chunk_task": ("reconciliation", 240, 270),
    "claims.tasks.reconciliation_nightly_task": ("reconciliation", 30, 60),
    "policies.tasks.outbox_sweep_task": ("outbox", 60, 90),
    "claims.tasks.long_tasks_resume_stale_task": ("default", 30, 60),
    "claims.tasks.claims_release_waiting_task": ("default", 240, 270),
    "claims.tasks.claims_flag_sla_breaches_task": ("default", 240, 270),
    "claims.tasks.claims_close_due_task": ("default", 240, 270),
    "policies.tasks.policies_expire_due_task": ("default", 240, 270),
    "policies.tasks.event_partitions_create_task": ("default", 60, 90),
}
CELERY_TASK_ROUTES = {name: {"queue": queue} for name, (queue, _, _) in TASK_LIMITS.items()}
CELERY_TASK_ANNOTATIONS = {
    name: {"soft_time_limit": soft, "time_limit": hard}
    for name, (_, soft, hard) in TASK_LIMITS.items()
}
# Celery's own tasks and any task left out above.
CELERY_TASK_SOFT_TIME_LIMIT = 240
CELERY_TASK_TIME_LIMIT = 270
# --- end of queues, routes and time limits ---

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["policies.api.parsers.JSONParser"],
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "COERCE_DECIMAL_TO_STRING": True,
    "EXCEPTION_HANDLER": "policies.api.exceptions.exception_handler",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_THROTTLE_RATES": {"api_key": env("API_KEY_THROTTLE_RATE", default="1200/min")},
    "DATETIME_FORMAT": "iso-8601",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "sellercover API",
    # The overview a marketplace engineer reads first: policies.api.docs.describe_api.
    "VERSION": "1.0.0",
    # 3.1 documents the webhook the API sends beside the operations it answers.
    "OAS_VERSION": "3.1.0",
    "WEBHOOKS": ["policies.api.docs.STATUS_CHANGED"],
    "SERVE_INCLUDE_SCHEMA": False,
    # Served from the drf-spectacular-sidecar package: the docs work offline.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Every status the API can answer, with its error body, on every operation.
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "policies.api.schema.document_error_statuses",
        "policies.api.docs.describe_api",
    ],
}
# The largest request body the API reads (policies/api/parsers.py; the seller pages keep
# Django's DATA_UPLOAD_MAX_MEMORY_SIZE). A full bulk of the widest items, 1,000 claims with
# 2,000-character descriptions, in Cyrillic sent \u-escaped (6 bytes a character), is about
# 13 MB; tests/api/test_bad_input.py holds every bulk to the limit.
API_MAX_BODY_BYTES = env.int("API_MAX_BODY_BYTES", default=16 * 1024 * 1024)

# No inline script or style on any page (seller pages, admin, API docs): what runs and
# styles comes from this origin's static files. https://django-csp.readthedocs.io/
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        # Swagger UI's and the admin's stylesheets draw their icons as data: URLs.
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}

# The language switch needs no script; the cookie is sent only on this site's requests.
LANGUAGE_COOKIE_HTTPONLY = True
LANGUAGE_COOKIE_SAMESITE = "Lax"

# A TLS-terminating proxy in front (nginx, a load balancer) says so, and only then are its
# X-Forwarded-Proto (HTTPS) and X-Forwarded-For (the right-most entry, the address it saw)
# believed; without one any client could claim HTTPS or another address. The proxy must
# set X-Forwarded-Proto itself and append to X-Forwarded-For.
TRUSTED_PROXY = env.bool("TRUSTED_PROXY", default=False)
if TRUSTED_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    AXES_IPWARE_PROXY_ORDER = "right-most"
    AXES_IPWARE_META_PRECEDENCE_ORDER = ("HTTP_X_FORWARDED_FOR", "REMOTE_ADDR")

# --- Health, metrics and logs (issue 20) ---
# /readyz (config/probes.py) fails when a follow-up has waited unsent this long: neither its
# commit's dispatch nor the outbox's sweep reaches the broker.
OUTBOX_STALLED_AFTER = dt.timedelta(seconds=env.int("OUTBOX_STALLED_AFTER_SECONDS", default=300))
# /metrics: with a token, a scrape sends `Authorization: Bearer <token>`; with an allow-list
# (addresses or networks, comma-separated), it comes from one of them as the TRUSTED_PROXY rule
# reads the client's address; with both, both hold. With neither the metrics are open in the
# demo profile and closed (403) with DEBUG off.
METRICS_TOKEN = env("METRICS_TOKEN", default="")
try:
    METRICS_ALLOWED_NETWORKS = [
        ipaddress.ip_network(entry, strict=False)
        for entry in env.list("METRICS_ALLOWED_IPS", default=[])
    ]
except ValueError as exc:
    raise ImproperlyConfigured(f"METRICS_ALLOWED_IPS: {exc}") from exc
METRICS_OPEN = DEBUG
# The straight-through rate and the decisions it counts look back this many days.
METRICS_WINDOW_DAYS = env.int("METRICS_WINDOW_DAYS", default=30)

# Logs: JSON lines in production (one object per line, for a log shipper), readable lines in
# the demo. Every line of a request, and of the tasks it queued (the outbox row keeps the id,
# its worker binds it), carries the request's id: the trusted proxy's X-Request-ID, else a
# new one, returned in the response's X-Request-ID. https://django-structlog.readthedocs.io/
LOG_FORMAT = env("LOG_FORMAT", default="console" if DEBUG else "json")
if LOG_FORMAT not in ("console", "json"):
    raise ImproperlyConfigured("LOG_FORMAT: choose console or json.")
DJANGO_STRUCTLOG_CELERY_ENABLED = True
DJANGO_STRUCTLOG_TRUST_UPSTREAM_REQUEST_ID = TRUSTED_PROXY
# django-structlog reads the address from X-Forwarded-For whatever the proxy; the lines name
# the user and the request id instead.
DJANGO_STRUCTLOG_IP_LOGGING_ENABLED = False
_LOG_CHAIN = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso"),
]
structlog.configure(
    processors=[
        structlog.stdlib.filter_by_level,
        *_LOG_CHAIN,
        structlog.stdlib.PositionalArgumentsFormatter(),
        structlog.processors.StackInfoRenderer(),
        structlog.processors.UnicodeDecoder(),
        structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
    ],
    logger_factory=structlog.stdlib.LoggerFactory(),
    wrapper_class=structlog.stdlib.BoundLogger,
    cache_logger_on_first_use=True,
)
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {
            "()": structlog.stdlib.ProcessorFormatter,
            "processors": [
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                structlog.processors.JSONRenderer(ensure_ascii=False),
            ],
            # The lines of plain logging (Django's, Celery's, the project's) get the same keys.
            "foreign_pre_chain": _LOG_CHAIN,
        },
        "console": {
            "()": structlog.stdlib.ProcessorFormatter,
            "processors": [
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.dev.ConsoleRenderer(colors=False),
            ],
            "foreign_pre_chain": _LOG_CHAIN,
        },
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    # Eager tasks would log a line per task in the caller's output; workers keep theirs.
    "loggers": {
        "celery.app.trace": {"level": "WARNING" if CELERY_TASK_ALWAYS_EAGER else "INFO"},
        # WeasyPrint narrates every rendering step at INFO; its warnings (a refused URL) stay.
        "weasyprint": {"level": "WARNING"},
        # The demo's runserver already prints a line per request.
        "django_structlog": {"level": "WARNING" if LOG_FORMAT == "console" else "INFO"},
        # The demo's console shows its URL, logins and key, not each start's narration:
        # django-axes announcing itself and the autoreloader watching or reloading.
        "axes": {"level": "WARNING" if LOG_FORMAT == "console" else "INFO"},
        "django.utils.autoreload": {"level": "WARNING" if LOG_FORMAT == "console" else "INFO"},
        # The demo's in-memory broker has no host to name; kombu warns of that on each start.
        "kombu.connection": {"level": "ERROR" if CELERY_BROKER_URL == "memory://" else "WARNING"},
    },
}
# --- end of health, metrics and logs ---

if not DEBUG:
    # https://docs.djangoproject.com/en/5.2/howto/deployment/checklist/
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    LANGUAGE_COOKIE_SECURE = True
