"""Settings for the todo backend: every deploy-dependent value comes from the environment.

Local use needs nothing set except `DJANGO_DEBUG=true` (which `make run` does); production
must set `DJANGO_SECRET_KEY` and `BETTER_AUTH_SECRET` or the process refuses to start.
"""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

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
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "accounts",
    "tasks",
]

MIDDLEWARE = [
    "todo_project.middleware.RequestIDMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

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
# postgres://user:pass@host/db?sslmode=require. Persistent connections are health-checked, and
# server-side cursors are off so that a transaction-mode pooler (PgBouncer, Neon's pooled URL) works.
DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=env_int("DB_CONN_MAX_AGE", 600),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = True
    DATABASES["default"].setdefault("OPTIONS", {})
    # Bounded connect time: a cold Neon compute wakes in a few seconds; an unreachable server
    # must become a 503, not a hung worker.
    DATABASES["default"]["OPTIONS"].setdefault("connect_timeout", env_int("DB_CONNECT_TIMEOUT", 5))
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
REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Users and passwords ------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = ["accounts.backends.EmailOrIdBackend"]
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
# Standalone mode: this backend registers users and issues the same tokens itself.
LOCAL_AUTH_ENABLED = env_bool("LOCAL_AUTH_ENABLED", True)
ACCESS_TOKEN_LIFETIME_SECONDS = env_int("ACCESS_TOKEN_LIFETIME_SECONDS", 900)
REFRESH_TOKEN_LIFETIME_SECONDS = env_int("REFRESH_TOKEN_LIFETIME_SECONDS", 7 * 24 * 3600)

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
}

# --- REST API -----------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["accounts.authentication.BetterAuthJWTAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["todo_project.formats.ORJSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["todo_project.formats.LimitedJSONParser"],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "todo_project.formats.LenientContentNegotiation",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "todo_project.api.problem_exception_handler",
    "UNAUTHENTICATED_USER": None,
}
# Request bodies above this are refused with 413 (API.md §5).
API_MAX_BODY_BYTES = 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = API_MAX_BODY_BYTES

SPECTACULAR_SETTINGS = {
    "TITLE": "Todo API",
    "DESCRIPTION": "Tasks for users signed in through Better Auth. Contract: API.md.",
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
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# --- Logging ------------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("DJANGO_LOG_LEVEL", "INFO")},
}
