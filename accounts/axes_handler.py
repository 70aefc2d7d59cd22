"""django-axes for the admin's login only.

`AXES_ONLY_ADMIN_SITE` stops axes from refusing other logins, but its signal handlers still counted
their failures: five wrong passwords at the `/login` page from anywhere locked that account there
(with the admin's lockout page) for 15 minutes, renewed by every further attempt, which let anyone
lock a user out for good. The pages and the API have their own per-account throttle with backoff
(accounts.login_throttle); axes now sees only the admin's logins.
"""

from axes.handlers.database import AxesDatabaseHandler


class AdminOnlyAxesHandler(AxesDatabaseHandler):
    def user_login_failed(self, sender, credentials: dict, request=None, **kwargs):
        if request is not None and not self.is_admin_request(request):
            return None
        return super().user_login_failed(sender, credentials, request, **kwargs)

    def user_logged_in(self, sender, request, user, **kwargs):
        if request is not None and not self.is_admin_request(request):
            return None
        return super().user_logged_in(sender, request, user, **kwargs)
