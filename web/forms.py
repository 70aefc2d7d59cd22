"""The sign-in and registration forms of the pages."""

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.password_validation import password_validators_help_text_html
from django.core.exceptions import ValidationError

from accounts import login_throttle
from accounts.models import User
from accounts.services import user_register
from core.throttling import client_address


class SignInForm(AuthenticationForm):
    """Django's sign-in form, asking for the email (the backend also accepts a user id)."""

    error_messages = {
        **AuthenticationForm.error_messages,
        # The same words as the API's 401 invalid_credentials, and no hint of which one was wrong.
        "invalid_login": "Wrong email or password.",
    }

    throttle_wait: int | None = None

    def clean(self):
        """Django's check of the password, behind the per-account sign-in throttle (the API's)."""
        login = self.cleaned_data.get("username") or ""
        if not login or not self.cleaned_data.get("password"):
            return super().clean()  # a field is missing: nothing was tried, nothing to count
        account = login_throttle.account_key(login=login)
        address = client_address(self.request) if self.request is not None else ""
        self.throttle_wait = login_throttle.sign_in_wait(account=account, address=address)
        if self.throttle_wait is not None:
            raise ValidationError(
                f"Too many failed sign-ins for this account. Try again in {self.throttle_wait} seconds.",
                code="account_throttled",
            )
        try:
            cleaned = super().clean()
        except ValidationError:
            login_throttle.sign_in_failed(account=account, address=address)
            raise
        if self.user_cache is not None:
            login_throttle.sign_in_succeeded(account=account, address=address)
        return cleaned

    def confirm_login_allowed(self, user):
        super().confirm_login_allowed(user)
        if user.is_staff:
            # A session from this page would open the admin too, without the admin login's lockout
            # (django-axes). Staff sign in there; here they get the same answer as a wrong password,
            # so this page cannot tell a password guesser that the guess was right.
            raise self.get_invalid_login_error()

    def __init__(self, request=None, *args, **kwargs):
        super().__init__(request, *args, **kwargs)
        username = self.fields["username"]
        username.label = "Email"
        username.max_length = 254
        username.widget.attrs.update(
            {"maxlength": 254, "autocomplete": "email", "inputmode": "email", "spellcheck": "false"}
        )


class RegisterForm(forms.Form):
    """A standalone-mode account. The rules (password validators, one account per email) are
    accounts.services.user_register's, so this page and `POST /api/auth/register/` agree."""

    name = forms.CharField(
        label="Name",
        max_length=255,
        required=False,
        help_text="Shown at the top of your task page.",
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
    )
    email = forms.EmailField(
        label="Email",
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True, "spellcheck": "false"}),
    )
    password1 = forms.CharField(
        label="Password",
        strip=False,
        help_text=password_validators_help_text_html(),
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    password2 = forms.CharField(
        label="Password again",
        strip=False,
        help_text="The same password, to catch a typing mistake.",
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    # The service names its fields as the API does; the form asks for the password twice.
    _SERVICE_FIELDS = {"email": "email", "name": "name", "password": "password1"}

    def clean(self):
        cleaned = super().clean()
        first, second = cleaned.get("password1"), cleaned.get("password2")
        if first and second and first != second:
            self.add_error("password2", "The two passwords are not the same.")
        return cleaned

    def register(self) -> User | None:
        """Create the account; the service's refusals become this form's errors (then None)."""
        try:
            return user_register(
                email=self.cleaned_data["email"],
                password=self.cleaned_data["password1"],
                name=self.cleaned_data["name"].strip(),
            )
        except ValidationError as error:
            for field, messages in error.message_dict.items():
                self.add_error(self._SERVICE_FIELDS.get(field), messages)
            return None
