"""Settings for the todo backend: every deploy-dependent value comes from the environment.

Local use needs nothing set except `DJANGO_DEBUG=true` (which `make run` does); production
must set `DJANGO_SECRET_KEY` and `BETTER_AUTH_SECRET` or the process refuses to start.
"""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from core.rates import RATE

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    if value.strip().lower() in {"1", "true", "yes", "on"}:
        return True
    if value.strip().lower() in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {value!r}.")


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {value!r}.") from None


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def env_rate(name: str, default: str) -> str | None:
    """A rate limit such as `600/min` or `20/15min`; `off` disables it."""
    value = os.environ.get(name, "").strip().lower() or default
    if value in {"off", "none"}:
        return None
    if not RATE.fullmatch(value):
        raise ImproperlyConfigured(f"{name} must look like 600/min, 20/15min or off, not {value!r}.")
    return value


# --- Core -------------------------------------------------------------------------------------
DEBUG = env_bool("DJANGO_DEBUG", False)
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY is required when DJANGO_DEBUG is off; set it to a long random value."
        )
    SECRET_KEY = "django-insecure-development-only-key-never-use-in-production"
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")

# --- Security (HTTPS behind a TLS-terminating proxy) ------------------------------------------
# The proxy's header that says the original request was HTTPS, e.g. X-Forwarded-Proto. Only set
# it when the proxy always overwrites that header: a client could otherwise claim HTTPS itself.
_proxy_ssl_header = os.environ.get("DJANGO_SECURE_PROXY_SSL_HEADER", "").strip()
if _proxy_ssl_header:
    SECURE_PROXY_SSL_HEADER = ("HTTP_" + _proxy_ssl_header.upper().replace("-", "_"), "https")
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", False)
# Platform probes often call the instance over plain HTTP; a redirect would fail them.
SECURE_REDIRECT_EXEMPT = [r"^healthz/?$", r"^readyz/?$"]
SECURE_HSTS_SECONDS = env_int("DJANGO_SECURE_HSTS_SECONDS", 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("DJANGO_SECURE_HSTS_PRELOAD", False)
SESSION_COOKIE_SECURE = env_bool("DJANGO_SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("DJANGO_CSRF_COOKIE_SECURE", not DEBUG)
# The admin's form posts from its public HTTPS origin, e.g. https://api.example.com.
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")
X_FRAME_OPTIONS = "DENY"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "corsheaders",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "core",
    "accounts",
    "tasks",
    "notifications",
    "webhooks",
    "web",
    "axes",
    "rest_framework_simplejwt.token_blacklist",
]

# The browser middleware (core.middleware.Browser*) is Django's own, skipped for /api/ requests:
# a Bearer API call does no session, CSRF, messages, lockout or clickjacking work.
MIDDLEWARE = [
    "core.request_id.RequestIDMiddleware",
    "core.request_log.RequestLogMiddleware",
    "core.middleware.ApiCacheHeadersMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "core.middleware.BrowserSessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "core.middleware.BrowserCsrfViewMiddleware",
    "core.middleware.BrowserAuthenticationMiddleware",
    "core.middleware.BrowserMessageMiddleware",
    "core.middleware.BrowserXFrameOptionsMiddleware",
    # Last, as django-axes asks: it turns a locked-out admin login into the lockout page.
    "core.middleware.BrowserAxesMiddleware",
]

# Django finds XFrameOptionsMiddleware and CsrfViewMiddleware, and django-axes its middleware, by
# exact path only; core.checks makes the same checks for their Browser* subclasses above.
SILENCED_SYSTEM_CHECKS = ["security.W002", "security.W003", "axes.W002"]

ROOT_URLCONF = "todo_project.urls"
WSGI_APPLICATION = "todo_project.wsgi.application"
# Routes accept both `/x` and `/x/` themselves; a redirect would drop a PUT's body.
APPEND_SLASH = False

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------------------------
# SQLite file by default; PostgreSQL (Neon) through DATABASE_URL, e.g.
# postgres://user:pass@host/db?sslmode=require. Persistent connections are health-checked before
# reuse by core.db.postgresql, which polls the socket instead of sending `SELECT 1` (no round trip),
# and server-side cursors are off so that a transaction-mode pooler (PgBouncer, Neon's pooled URL) works.
DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=env_int("DB_CONN_MAX_AGE", 600),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"]["ENGINE"] = "core.db.postgresql"
    DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = True
    DATABASES["default"].setdefault("OPTIONS", {})
    # Bounded connect time: a cold Neon compute wakes in a few seconds; an unreachable server
    # must become a 503, not a hung worker.
    DATABASES["default"]["OPTIONS"].setdefault("connect_timeout", env_int("DB_CONNECT_TIMEOUT", 5))
    # TCP keepalives notice a connection that died silently (a NAT or proxy dropped it) in about
    # a minute instead of the kernel's two hours; tcp_user_timeout gives up on a query whose packets
    # go unacknowledged for 10 s (a network partition) instead of waiting until the worker is killed.
    _keepalives = {"keepalives": 1, "keepalives_idle": 30, "keepalives_interval": 10, "keepalives_count": 3}
    _keepalives["tcp_user_timeout"] = 10_000
    for _name, _value in _keepalives.items():
        DATABASES["default"]["OPTIONS"].setdefault(_name, _value)
elif DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        # IMMEDIATE takes the write lock at BEGIN, so concurrent writers wait instead of failing.
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache --------------------------------------------------------------------------------------
# Redis when REDIS_URL is set (shared by every process and instance: rate-limit counters, stored
# idempotent responses), else per-process memory. A slow or unreachable Redis must not hold a
# request for long, so its socket waits are bounded.
REDIS_URL = os.environ.get("REDIS_URL", "")
REDIS_TIMEOUT_SECONDS = env_int("REDIS_TIMEOUT_SECONDS", 2)
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": os.environ.get("CACHE_KEY_PREFIX", "todo"),
            "OPTIONS": {
                "socket_connect_timeout": REDIS_TIMEOUT_SECONDS,
                "socket_timeout": REDIS_TIMEOUT_SECONDS,
                "health_check_interval": 30,
            },
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Background work (Celery) -------------------------------------------------------------------
# Workers and the scheduler (beat) run from the Procfile. The broker is CELERY_BROKER_URL, else
# REDIS_URL, else an embedded transport that needs no server (files under CELERY_EMBEDDED_BROKER_DIR,
# for one machine: `make run`). The database is the source of truth for background work, so the
# broker keeps no results and a message lost with a broker costs at most one scan period.
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL") or REDIS_URL or "filesystem://localhost/"
CELERY_EMBEDDED_BROKER_DIR = Path(os.environ.get("CELERY_EMBEDDED_BROKER_DIR", BASE_DIR / "var" / "celery"))
if CELERY_BROKER_URL.startswith("filesystem://"):
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(CELERY_EMBEDDED_BROKER_DIR / "queue"),
        "data_folder_out": str(CELERY_EMBEDDED_BROKER_DIR / "queue"),
        "control_folder": str(CELERY_EMBEDDED_BROKER_DIR / "control"),
    }
else:
    # A broker that is down must not hold a web request: publishing gives up quickly (the periodic
    # scans pick the work up) instead of retrying for seconds.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "socket_connect_timeout": REDIS_TIMEOUT_SECONDS,
        "socket_timeout": REDIS_TIMEOUT_SECONDS,
        "max_retries": 1,
    }
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# The queue's name: deployments that share one broker each need their own.
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("CELERY_QUEUE", "celery")
CELERY_TASK_IGNORE_RESULT = True
# A task is acknowledged when it has finished, and redelivered when its worker dies mid-task.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 120)
CELERY_TASK_TIME_LIMIT = CELERY_TASK_SOFT_TIME_LIMIT + 30
CELERY_TIMEZONE = "UTC"
# Django's LOGGING stays in charge: a worker writes the same JSON lines as the web process, each
# with the id and name of the task it was running (core.request_log).
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_WORKER_REDIRECT_STDOUTS = False
CELERY_BEAT_SCHEDULE_FILENAME = os.environ.get(
    "CELERY_BEAT_SCHEDULE_FILENAME", str(CELERY_EMBEDDED_BROKER_DIR / "beat-schedule")
)
CELERY_BEAT_SCHEDULE = {
    "purge-idempotency-keys": {"task": "tasks.purge_idempotency_keys", "schedule": 3600},
    "flush-expired-tokens": {"task": "accounts.flush_expired_tokens", "schedule": 86400},
    "purge-tombstones": {"task": "tasks.purge_tombstones", "schedule": 86400},
    # Every reminder is sent within 60 s of its fire_at: a scan every 15 s starts the deliveries.
    "reminders-due-scan": {"task": "notifications.scan_due_reminders", "schedule": 15},
    # Outbox events become webhook messages within ~2 s; delivery is woken by dispatch, and this
    # entry is the safety net for retries falling due and a killed worker's messages.
    "webhooks-dispatch": {"task": "webhooks.dispatch", "schedule": 2},
    "webhooks-deliver": {"task": "webhooks.deliver", "schedule": 5},
    "webhooks-purge": {"task": "webhooks.purge", "schedule": 86400},
}

# --- Users and passwords ------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
# Axes first: it refuses a locked-out admin login before any password is checked. It needs the
# request, so authenticate() must be given one (the API's token view does not call authenticate()).
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "accounts.backends.EmailOrIdBackend"]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Admin login throttling (django-axes, attempts stored in the database) ---------------------
# After AXES_FAILURE_LIMIT failed admin logins from one address, or for one account (its email in
# any case, or its id), further attempts are refused for the cool-off time, even with the right
# password. `manage.py axes_reset` lifts every lockout.
AXES_ENABLED = env_bool("ADMIN_LOGIN_THROTTLE_ENABLED", True)
AXES_FAILURE_LIMIT = env_int("ADMIN_LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("ADMIN_LOGIN_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = ["ip_address", "username"]
AXES_RESET_ON_SUCCESS = True
AXES_ONLY_ADMIN_SITE = True
# Counts only the admin's failures too (AXES_ONLY_ADMIN_SITE alone still counted /login's).
AXES_HANDLER = "accounts.axes_handler.AdminOnlyAxesHandler"
AXES_USERNAME_CALLABLE = "accounts.admin.admin_login_key"
AXES_CLIENT_IP_CALLABLE = "core.throttling.client_address"
AXES_LOCKOUT_TEMPLATE = "admin/login_locked_out.html"
# Quiet: its start-up line would land on stdout of every manage.py command (logs go to stdout).
# Attempts and lockouts are in the admin (Axes: access attempts) instead.
AXES_VERBOSE = False

# --- Better Auth tokens -------------------------------------------------------------------------
# HS256 with the shared secret (raw UTF-8 bytes), and optionally Better Auth's JWKS for EdDSA,
# ES256 and RS256 tokens. Without a secret, only JWKS tokens are accepted (JWKS-only mode).
BETTER_AUTH_SECRET = os.environ.get("BETTER_AUTH_SECRET", "")
BETTER_AUTH_PUBLIC_FALLBACK_SECRET = "better-auth-secret-12345678901234567890"
BETTER_AUTH_ISSUER = os.environ.get("BETTER_AUTH_ISSUER", "")
BETTER_AUTH_AUDIENCE = env_list("BETTER_AUTH_AUDIENCE")
BETTER_AUTH_JWKS_URL = os.environ.get("BETTER_AUTH_JWKS_URL", "")
# An unknown `kid` refetches the JWKS document at most once per this many seconds.
BETTER_AUTH_JWKS_MIN_REFRESH_SECONDS = env_int("BETTER_AUTH_JWKS_MIN_REFRESH_SECONDS", 30)
BETTER_AUTH_JWKS_CACHE_SECONDS = env_int("BETTER_AUTH_JWKS_CACHE_SECONDS", 3600)
JWT_LEEWAY_SECONDS = env_int("JWT_LEEWAY_SECONDS", 30)
# How long a process may trust the user row a token named (accounts/user_cache.py); 0 reads it on
# every request. A change to the user reaches every process at once through Redis when it is set.
AUTH_USER_CACHE_SECONDS = env_int("AUTH_USER_CACHE_SECONDS", 5)
# Any Bearer token living longer than this (exp - iat, or exp - now without iat) is refused.
JWT_MAX_LIFETIME_SECONDS = env_int("JWT_MAX_LIFETIME_SECONDS", 86400)
# Standalone mode: this backend registers users and issues tokens itself. On by default only with
# debug on; a production deployment opts in.
LOCAL_AUTH_ENABLED = env_bool("LOCAL_AUTH_ENABLED", DEBUG)
# The `iss` of the tokens this backend issues (standalone mode). Never Better Auth's: a token is taken
# as a standalone token only with this issuer, and a token with it only as a standalone token. The
# default is a URN on the site's first host name, which no Better Auth origin can equal.
_site_hosts = [host.lstrip(".") for host in ALLOWED_HOSTS if host.lstrip(".") not in {"", "*"}]
_site_host = _site_hosts[0] if _site_hosts else "localhost"
LOCAL_AUTH_ISSUER = os.environ.get("LOCAL_AUTH_ISSUER", "").strip() or f"urn:todo-backend:{_site_host}"
if BETTER_AUTH_ISSUER and LOCAL_AUTH_ISSUER == BETTER_AUTH_ISSUER:
    raise ImproperlyConfigured(
        "LOCAL_AUTH_ISSUER must differ from BETTER_AUTH_ISSUER: "
        "standalone tokens must never pass as Better Auth's."
    )
# Sign-in attempts per account (any address) before /api/auth/token/ and /login slow down; see
# accounts/login_throttle.py.
LOGIN_ACCOUNT_FAILURE_LIMIT = env_int("LOGIN_ACCOUNT_FAILURE_LIMIT", 5)
LOGIN_ACCOUNT_BACKOFF_MAX_SECONDS = env_int("LOGIN_ACCOUNT_BACKOFF_MAX_SECONDS", 900)
# The Better Auth frontend's address, e.g. https://app.example.com: with LOCAL_AUTH_ENABLED=false the
# pages this server renders (web/) say that sign-in happens there and link to it.
FRONTEND_URL = os.environ.get("FRONTEND_URL", "").strip()
ACCESS_TOKEN_LIFETIME_SECONDS = env_int("ACCESS_TOKEN_LIFETIME_SECONDS", 900)
REFRESH_TOKEN_LIFETIME_SECONDS = env_int("REFRESH_TOKEN_LIFETIME_SECONDS", 7 * 24 * 3600)

# Change feed (docs/API.md §8, docs/SYNC.md): deleted tasks are remembered this many days; a sync
# token older than that is 410 sync_expired. The purge_tombstones task (daily) forgets older ones.
SYNC_TOMBSTONE_DAYS = env_int("SYNC_TOMBSTONE_DAYS", 30)
if SYNC_TOMBSTONE_DAYS < 1:
    raise ImproperlyConfigured("SYNC_TOMBSTONE_DAYS must be at least 1.")

if not DEBUG:
    _jwks_only = bool(BETTER_AUTH_JWKS_URL) and not LOCAL_AUTH_ENABLED
    if not BETTER_AUTH_SECRET and not _jwks_only:
        raise ImproperlyConfigured(
            "BETTER_AUTH_SECRET is required when DJANGO_DEBUG is off (use the same value as the "
            "Better Auth frontend), unless BETTER_AUTH_JWKS_URL is set and LOCAL_AUTH_ENABLED=false."
        )
    if BETTER_AUTH_SECRET == BETTER_AUTH_PUBLIC_FALLBACK_SECRET:
        raise ImproperlyConfigured(
            "BETTER_AUTH_SECRET is Better Auth's public fallback value; set a private secret."
        )
    if BETTER_AUTH_SECRET and len(BETTER_AUTH_SECRET) < 32:
        raise ImproperlyConfigured("BETTER_AUTH_SECRET must be at least 32 characters long.")
if not BETTER_AUTH_SECRET and DEBUG:
    BETTER_AUTH_SECRET = "development-only-better-auth-secret-change-me"

SIMPLE_JWT = {
    "ALGORITHM": "HS256",
    "SIGNING_KEY": BETTER_AUTH_SECRET,
    "USER_ID_FIELD": "id",
    "USER_ID_CLAIM": "sub",
    "ACCESS_TOKEN_LIFETIME": timedelta(seconds=ACCESS_TOKEN_LIFETIME_SECONDS),
    "REFRESH_TOKEN_LIFETIME": timedelta(seconds=REFRESH_TOKEN_LIFETIME_SECONDS),
    "LEEWAY": JWT_LEEWAY_SECONDS,
    "UPDATE_LAST_LOGIN": False,
    # Standalone refresh tokens are rotated on every refresh and the spent one blacklisted (SimpleJWT's
    # token_blacklist app); accounts/refresh.py does it, with reuse detection, since SimpleJWT's own
    # views are not routed. These say the same for anything of SimpleJWT's that reads them.
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
}

# --- REST API -----------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["accounts.authentication.BetterAuthJWTAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["core.formats.ORJSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["core.formats.LimitedJSONParser"],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "core.formats.LenientContentNegotiation",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "core.problems.problem_exception_handler",
    "UNAUTHENTICATED_USER": None,
    # Per user on every authenticated view, per client address on views with a throttle_scope
    # (the /api/auth/* routes). Counters live in the cache: Redis makes them shared.
    "DEFAULT_THROTTLE_CLASSES": [
        "core.throttling.UserRateThrottle",
        "core.throttling.AddressScopedRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "user": env_rate("API_RATE_LIMIT_USER", "600/min"),
        "auth": env_rate("API_RATE_LIMIT_AUTH", "20/min"),
    },
    # How many proxies in front of us append to X-Forwarded-For. 0 (the default) uses the socket
    # address and ignores the header, which a client can write anything into.
    "NUM_PROXIES": env_int("NUM_PROXIES", 0),
}
# Request bodies above this are refused with 413 (docs/API.md §5).
API_MAX_BODY_BYTES = 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = API_MAX_BODY_BYTES

# Webhooks (docs/WEBHOOKS.md). WEBHOOK_ALLOW_PRIVATE lifts the address rules and allows http
# (local testing only). WEBHOOK_SECRET_KEY encrypts the stored signing secrets; unset, a key is
# derived from DJANGO_SECRET_KEY (rotating either makes existing webhook secrets unreadable).
WEBHOOK_ALLOW_PRIVATE = env_bool("WEBHOOK_ALLOW_PRIVATE", False)
WEBHOOK_SECRET_KEY = os.environ.get("WEBHOOK_SECRET_KEY", "")
# How long a delivery worker holds an endpoint without renewing; a killed worker's message goes
# again after it. Longer than one attempt can take (5 s).
WEBHOOK_LEASE_SECONDS = env_int("WEBHOOK_LEASE_SECONDS", 30)

SPECTACULAR_SETTINGS = {
    "TITLE": "Todo API",
    "DESCRIPTION": "Tasks for users signed in through Better Auth. Contract: docs/API.md.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
}

# --- CORS ---------------------------------------------------------------------------------------
CORS_ALLOWED_ORIGINS = env_list("CORS_ALLOWED_ORIGINS")
CORS_URLS_REGEX = r"^/api/.*$"
CORS_ALLOW_HEADERS = [
    "authorization",
    "content-type",
    "if-match",
    "if-none-match",
    "idempotency-key",
    "x-request-id",
]
CORS_EXPOSE_HEADERS = ["ETag", "Link", "Location", "X-Total-Count", "X-Request-ID", "Retry-After"]
CORS_PREFLIGHT_MAX_AGE = env_int("CORS_PREFLIGHT_MAX_AGE", 86400)

# --- Internationalisation -----------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static files -------------------------------------------------------------------------------
STATIC_URL = "static/"
# `manage.py collectstatic` fills it at build time (gunicorn.conf.py runs it when the manifest is
# missing); whitenoise serves it with hashed names, far-future caching and gzip variants.
STATIC_ROOT = Path(os.environ.get("DJANGO_STATIC_ROOT", "") or BASE_DIR / "staticfiles")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# --- Web Push (docs/NOTIFICATIONS.md) -----------------------------------------------------------
# The VAPID private key as web-push tools print it (base64url raw P-256 scalar; PEM or base64url DER
# also accepted); `manage.py generate_vapid_keys` makes one. Unset: Web Push is off (the public-key
# route answers 503, reminders are still marked sent, and the worker logs why nothing was pushed).
WEBPUSH_VAPID_PRIVATE_KEY = os.environ.get("WEBPUSH_VAPID_PRIVATE_KEY", "").strip()
# Who the push services may contact about our traffic: a mailto: or https: URL.
WEBPUSH_VAPID_SUBJECT = os.environ.get("WEBPUSH_VAPID_SUBJECT", "").strip() or "mailto:admin@localhost"
# Plain-http endpoints and local addresses are refused unless this is on (local testing only).
WEBPUSH_ALLOW_HTTP = env_bool("WEBPUSH_ALLOW_HTTP", False)
# How long a push service keeps a reminder for a browser that is offline (the TTL header).
WEBPUSH_TTL_SECONDS = env_int("WEBPUSH_TTL_SECONDS", 86400)
# Seconds to wait for a push service's answer; a slow one is retried later, not waited on.
WEBPUSH_TIMEOUT_SECONDS = env_int("WEBPUSH_TIMEOUT_SECONDS", 5)
# Pushes in flight at once per worker process (the network round trips overlap).
WEBPUSH_CONCURRENCY = env_int("WEBPUSH_CONCURRENCY", 8)
# A claimed reminder is the claimer's for this long; a worker that dies loses it to the next scan.
REMINDER_LEASE_SECONDS = env_int("REMINDER_LEASE_SECONDS", 30)

# --- Logging ------------------------------------------------------------------------------------
# JSON lines on stdout in production (one per request from core.request_log, plus warnings
# and errors), readable text when debugging. Never a token, password or secret: see core/request_log.py.
LOG_FORMAT = os.environ.get("DJANGO_LOG_FORMAT", "text" if DEBUG else "json").strip().lower()
if LOG_FORMAT not in {"json", "text"}:
    raise ImproperlyConfigured(f"DJANGO_LOG_FORMAT must be json or text, not {LOG_FORMAT!r}.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {"()": "core.request_log.JSONFormatter"},
        "text": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "filters": {"request_context": {"()": "core.request_log.RequestContextFilter"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stdout",
            "formatter": LOG_FORMAT,
            "filters": ["request_context"],
        }
    },
    "root": {"handlers": ["console"], "level": os.environ.get("DJANGO_LOG_LEVEL", "INFO")},
    "loggers": {
        # Our request line already reports every 4xx; Django would log each one again as a warning.
        "django.request": {"level": "ERROR"},
        "django.server": {"level": "WARNING"},
        # Axes logs every admin login attempt at INFO; lockouts (WARNING) are what operators need.
        "axes": {"level": "WARNING"},
        # httpx logs every webhook request at INFO; the attempts log (and its admin) records them.
        "httpx": {"level": "WARNING"},
    },
}
