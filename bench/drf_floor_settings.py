"""Settings of the DRF floor (bench/drf_floor.py): Django and DRF with nothing an API call does not need.

No installed apps, no middleware, no throttles, no session or CSRF; DEBUG off (no query log). The
database is the project's (DATABASE_URL), through Django's connection: persistent (CONN_MAX_AGE),
without the per-request health check. gunicorn.conf.py reads LOG_FORMAT, DEBUG and STATIC_ROOT from
the settings it is given, so they are here too (STATIC_ROOT is the project's; run.py collects it).

Run: DJANGO_SETTINGS_MODULE=bench.drf_floor_settings gunicorn -c gunicorn.conf.py bench.drf_floor:application
"""

import os
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent
DEBUG = False
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY") or "bench-drf-floor-not-secret"
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]
INSTALLED_APPS: list[str] = []
MIDDLEWARE: list[str] = []
ROOT_URLCONF = "bench.drf_floor"
USE_TZ = True
TIME_ZONE = "UTC"
USE_I18N = False
DATABASES = {
    "default": dj_database_url.parse(os.environ["DATABASE_URL"], conn_max_age=600, conn_health_checks=False)
}
# The views name their own classes (bench/drf_floor.py): the defaults would import that module
# while it is being imported.
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": [],
    "DEFAULT_THROTTLE_CLASSES": [],
    "UNAUTHENTICATED_USER": None,
}
BETTER_AUTH_SECRET = os.environ.get("BETTER_AUTH_SECRET", "")
STATIC_ROOT = Path(os.environ.get("DJANGO_STATIC_ROOT", "") or BASE_DIR / "staticfiles")
STATIC_URL = "/static/"
LOG_FORMAT = "text"
