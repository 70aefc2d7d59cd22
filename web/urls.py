"""The pages, at the site root: `/`, `/login`, `/register`, `/logout`, `/auth/session-token`,
and the service worker `/sw.js`.

Like the API's routes, each answers with and without a trailing slash, never redirecting.
"""

from django.urls import path, re_path

from web import views

app_name = "web"

urlpatterns = [
    path("", views.tasks_page, name="tasks"),
    re_path(r"^login/?$", views.SignInView.as_view(), name="login"),
    re_path(r"^register/?$", views.register, name="register"),
    re_path(r"^logout/?$", views.sign_out, name="logout"),
    re_path(r"^auth/session-token/?$", views.session_token, name="session-token"),
    path("sw.js", views.service_worker, name="service-worker"),
]
