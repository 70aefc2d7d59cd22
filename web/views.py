"""The pages the monolith serves, and the session-to-token bridge their script uses.

Sign-in works like Better Auth's: a form starts a session (an HttpOnly, SameSite=Lax cookie), and
the page's script trades that session for a short-lived Bearer token at `GET /auth/session-token`
(Better Auth's `GET /api/auth/token`), then talks to the REST API with the token alone. The route
lives outside `/api/`, whose routes take Bearer tokens only and whose `/api/auth/token/` is the
standalone password login.
"""

from datetime import timedelta
from functools import cache
from pathlib import Path

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, logout
from django.contrib.auth.views import LoginView, redirect_to_login
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils.decorators import method_decorator
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods

from accounts import login_throttle
from accounts.tokens import access_token_for
from core.problems import problem_response
from web.forms import RegisterForm, SignInForm

# Signing out cannot revoke a JWT already handed to the page, so the page's tokens live briefly.
SESSION_TOKEN_MAX_LIFETIME_SECONDS = 300

# The pages load only their own script and style, and talk only to this origin.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)

_LOCAL_BACKEND = "accounts.backends.EmailOrIdBackend"


def _with_csp(response: HttpResponse) -> HttpResponse:
    response["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    return response


def _page(
    request: HttpRequest, template: str, context: dict | None = None, status: int = 200
) -> HttpResponse:
    return _with_csp(render(request, template, context or {}, status=status))


def _frontend_notice(request: HttpRequest) -> HttpResponse:
    """What every page says when sign-in belongs to the Better Auth frontend."""
    status = 200 if request.method in {"GET", "HEAD"} else 403
    frontend_url = settings.FRONTEND_URL
    if not frontend_url.lower().startswith(("https://", "http://")):
        frontend_url = ""  # never a javascript: or relative link from a mistyped setting
    response = _page(request, "web/frontend_signin.html", {"frontend_url": frontend_url}, status)
    response["Cache-Control"] = "no-store"
    return response


def _throttled(request: HttpRequest, template: str, form, wait: int) -> HttpResponse:
    context = {
        "form": form,
        "throttled_message": f"Too many sign-in attempts from your network. Try again in {wait} seconds.",
    }
    response = _page(request, template, context, status=429)
    response["Retry-After"] = str(wait)
    return response


def _safe_next(request: HttpRequest) -> str:
    """The `next` URL when it stays on this site, else the task page."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(target, {request.get_host()}, require_https=request.is_secure()):
        return target
    return reverse("web:tasks")


@method_decorator(never_cache, name="dispatch")
class SignInView(LoginView):
    """`/login`: Django's LoginView (CSRF, session rotation, safe `next`) with the auth rate limit."""

    form_class = SignInForm
    template_name = "web/login.html"
    redirect_authenticated_user = True
    next_page = reverse_lazy("web:tasks")

    def dispatch(self, request, *args, **kwargs):
        if not settings.LOCAL_AUTH_ENABLED:
            return _frontend_notice(request)
        return _with_csp(super().dispatch(request, *args, **kwargs))

    def post(self, request, *args, **kwargs):
        wait = login_throttle.address_wait(request)
        if wait is not None:
            return _throttled(request, self.template_name, self.get_form_class()(request), wait)
        return super().post(request, *args, **kwargs)

    def form_invalid(self, form):
        response = super().form_invalid(form)
        if form.throttle_wait is not None:  # the account's failures (accounts.login_throttle)
            response.status_code = 429
            response["Retry-After"] = str(form.throttle_wait)
        return response


@sensitive_post_parameters("password1", "password2")
@csrf_protect
@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def register(request: HttpRequest) -> HttpResponse:
    """`/register`: a standalone password account, signed in at once."""
    if not settings.LOCAL_AUTH_ENABLED:
        return _frontend_notice(request)
    next_url = _safe_next(request)
    if request.method == "POST":
        wait = login_throttle.address_wait(request)
        if wait is not None:
            return _throttled(request, "web/register.html", RegisterForm(), wait)
        form = RegisterForm(request.POST)
        if form.is_valid() and (user := form.register()) is not None:
            login(request, user, backend=_LOCAL_BACKEND)
            return redirect(next_url)
    elif request.user.is_authenticated:
        return redirect(next_url)
    else:
        form = RegisterForm()
    next_param = request.POST.get("next") or request.GET.get("next", "")
    return _page(request, "web/register.html", {"form": form, "next": next_param})


@csrf_protect
@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def sign_out(request: HttpRequest) -> HttpResponse:
    """`/logout`: POST ends the session; GET only asks (a link must not sign anyone out)."""
    if request.method == "POST":
        logout(request)
        messages.success(request, "You have signed out.")
        return redirect("web:login")
    if not request.user.is_authenticated:
        return redirect("web:login")
    return _page(request, "web/logout.html")


@never_cache
@require_http_methods(["GET", "HEAD"])
def tasks_page(request: HttpRequest) -> HttpResponse:
    """`/`: the task page. Its script does everything else through the REST API."""
    if not settings.LOCAL_AUTH_ENABLED:
        return _frontend_notice(request)
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path(), reverse("web:login"))
    config = {
        "userId": request.user.pk,
        "apiBase": f"/api/{request.user.pk}",
        "tokenUrl": reverse("web:session-token"),
        "loginUrl": reverse("web:login"),
        "serviceWorkerUrl": reverse("web:service-worker"),
        "pushKeyUrl": "/api/push/public-key/",
    }
    return _page(request, "web/tasks.html", {"config": config})


@never_cache
def session_token(request: HttpRequest) -> HttpResponse:
    """`GET /auth/session-token`: a short-lived Bearer token for the signed-in session's user.

    Errors are problem+json like the API's. Only the page's own origin may ask: browsers send
    `Sec-Fetch-Site`, and anything but `same-origin` (or `none`, typed in the address bar) is refused.
    """
    if request.method not in {"GET", "HEAD"}:
        return problem_response(
            request,
            405,
            "method_not_allowed",
            f'Method "{request.method}" not allowed.',
            headers={"Allow": "GET, HEAD"},
        )
    if not settings.LOCAL_AUTH_ENABLED:
        return problem_response(
            request, 404, "not_found", "Sign-in happens in the Better Auth frontend; standalone mode is off."
        )
    if request.headers.get("Sec-Fetch-Site", "same-origin") not in {"same-origin", "none"}:
        return problem_response(
            request, 403, "permission_denied", "Only this site's own pages may ask for a session token."
        )
    if not request.user.is_authenticated:
        return problem_response(
            request,
            401,
            "not_authenticated",
            "You are not signed in, or your session has ended. Sign in again.",
            headers={"WWW-Authenticate": 'Session realm="web"'},
        )
    user = request.user
    lifetime = min(settings.ACCESS_TOKEN_LIFETIME_SECONDS, SESSION_TOKEN_MAX_LIFETIME_SECONDS)
    token = access_token_for(
        user_id=user.pk,
        email=user.email,
        name=user.name,
        created_at=user.date_joined,
        lifetime=timedelta(seconds=lifetime),
        standalone=True,
    )
    body = {
        "token": str(token),
        "token_type": "Bearer",
        "expires_in": lifetime,
        "user": {"id": user.pk, "email": user.email, "name": user.name},
    }
    return JsonResponse(body)


SERVICE_WORKER_SOURCE = Path(__file__).resolve().parent / "service_worker.js"


@cache
def _service_worker_source() -> bytes:
    return SERVICE_WORKER_SOURCE.read_bytes()


@require_http_methods(["GET", "HEAD"])
def service_worker(request: HttpRequest) -> HttpResponse:
    """`GET /sw.js`: the service worker that shows reminders pushed to this browser (Web Push).

    Served from the site root, not /static/, because a worker controls only the paths under its own
    URL: at the root its scope covers every page. Browsers check it for updates on their own (they
    bypass the HTTP cache for it after 24 hours at most); `no-cache` makes every check revalidate.
    """
    response = HttpResponse(_service_worker_source(), content_type="text/javascript; charset=utf-8")
    response["Service-Worker-Allowed"] = "/"
    response["Cache-Control"] = "no-cache"
    response["X-Content-Type-Options"] = "nosniff"
    return _with_csp(response)
