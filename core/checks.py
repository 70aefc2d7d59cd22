"""Deploy checks that know the API's middleware (core.middleware) is Django's own, subclassed.

Django's security.W002 and security.W003 look for XFrameOptionsMiddleware and CsrfViewMiddleware by
their exact dotted path, so they do not see `core.middleware.Browser*`, and W016/W019 (secure CSRF
cookie, X_FRAME_OPTIONS = DENY) are then skipped too; django-axes's axes.W002 does the same for its
middleware. settings.py silences the three path checks; these make the same checks by class, so
`check --deploy` still catches a missing protection.
"""

from axes.middleware import AxesMiddleware
from django.conf import settings
from django.core.checks import Tags, Warning, register
from django.middleware.clickjacking import XFrameOptionsMiddleware
from django.middleware.csrf import CsrfViewMiddleware
from django.utils.module_loading import import_string


def _has_middleware(base: type) -> bool:
    for path in settings.MIDDLEWARE:
        try:
            middleware = import_string(path)
        except ImportError:
            continue
        if isinstance(middleware, type) and issubclass(middleware, base):
            return True
    return False


@register(Tags.security, deploy=True)
def check_browser_middleware(app_configs, **kwargs) -> list[Warning]:
    warnings = []
    if not _has_middleware(XFrameOptionsMiddleware):
        warnings.append(
            Warning(
                "No XFrameOptionsMiddleware (or subclass) in MIDDLEWARE: pages can be framed.", id="core.W002"
            )
        )
    elif settings.X_FRAME_OPTIONS != "DENY":
        warnings.append(Warning("X_FRAME_OPTIONS should be 'DENY'.", id="core.W019"))
    if not _has_middleware(CsrfViewMiddleware):
        warnings.append(
            Warning(
                "No CsrfViewMiddleware (or subclass) in MIDDLEWARE: forms are open to CSRF.", id="core.W003"
            )
        )
    elif not settings.CSRF_USE_SESSIONS and settings.CSRF_COOKIE_SECURE is not True:
        warnings.append(Warning("CSRF_COOKIE_SECURE should be True.", id="core.W016"))
    if not _has_middleware(AxesMiddleware):
        warnings.append(
            Warning(
                "No AxesMiddleware (or subclass) in MIDDLEWARE: admin lockouts are not shown.", id="core.W020"
            )
        )
    return warnings
