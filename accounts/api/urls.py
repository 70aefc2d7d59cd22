from django.urls import re_path

from accounts.api import views

urlpatterns = [
    re_path(r"^auth/register/?$", views.RegisterView.as_view(), name="auth-register"),
    re_path(r"^auth/token/?$", views.TokenView.as_view(), name="auth-token"),
    re_path(r"^auth/token/refresh/?$", views.TokenRefreshView.as_view(), name="auth-token-refresh"),
    re_path(r"^auth/token/revoke/?$", views.TokenRevokeView.as_view(), name="auth-token-revoke"),
    re_path(r"^me/?$", views.MeView.as_view(), name="me"),
]
