"""Password sign-in for staff (admin) and standalone users, by email or by user id."""

from django.contrib.auth.backends import ModelBackend

from accounts.selectors import password_account_find


class EmailOrIdBackend(ModelBackend):
    """Authenticate a password account by its email (case-insensitive) or its user id."""

    def authenticate(self, request, username=None, password=None, email=None, **kwargs):
        user = password_account_find(login=email or username or "")
        if user is None:
            return None
        if password is not None and user.check_password(password) and self.user_can_authenticate(user):
            return user
        return None
