"""Staff moderation of users: who they are, deactivate and reactivate.

Built for a large table: the paginator never counts the whole table. The tasks app adds each
user's task count (tasks/admin_users.py).
"""

from django.contrib import admin, messages
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm

from accounts.models import DeletedUser, User, new_user_id
from accounts.refresh import refresh_tokens_revoke_all
from accounts.services import user_delete, user_set_active
from core.admin_paging import LargeTablePaginator

# Users changed by one action: bounded, so a "select all" cannot run for minutes in one request.
ACTION_LIMIT = 1000


def admin_login_key(request, credentials: dict | None) -> str:
    """The account an admin login attempt is counted against (django-axes' username callable).

    The backend accepts an email in any case or a user id, so each spelling of one account must
    count as that account: otherwise an attacker gets five guesses per spelling.
    """
    login = ((credentials or {}).get("username") or request.POST.get("username") or "").strip()
    if "@" not in login:
        return login
    account_id = (
        User.objects.filter(email__iexact=login)
        .exclude(password__startswith="!")
        .values_list("pk", flat=True)
        .first()
    )
    return account_id or login.casefold()


class UserCreationForm(AdminUserCreationForm):
    """Django's admin creation form; a blank id gets one of Better Auth's shape."""

    class Meta(AdminUserCreationForm.Meta):
        model = User
        fields = ["id", "email", "name"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["id"].required = False
        self.fields["id"].help_text = "Leave blank for a new random id, or give the Better Auth user id."

    def clean_id(self) -> str:
        return self.cleaned_data.get("id") or new_user_id()


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    add_form = UserCreationForm
    # The tasks app adds a "tasks" column and field (tasks/admin_users.py): accounts knows no tasks.
    list_display = ["id", "email", "name", "is_active", "is_staff", "date_joined"]
    list_filter = ["is_active", "is_staff", "date_joined"]
    search_fields = ["=id", "email", "name"]
    ordering = ["-date_joined", "id"]
    readonly_fields = ["date_joined", "last_login"]
    fieldsets = [
        (None, {"fields": ["id", "password"]}),
        ("Profile", {"fields": ["email", "name"]}),
        ("Permissions", {"fields": ["is_active", "is_staff", "is_superuser", "groups", "user_permissions"]}),
        ("Dates", {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [
        (
            None,
            {
                "classes": ["wide"],
                "fields": ["id", "email", "name", "usable_password", "password1", "password2"],
            },
        )
    ]
    actions = ["deactivate_users", "reactivate_users"]
    paginator = LargeTablePaginator
    show_full_result_count = False
    list_per_page = 50

    def get_readonly_fields(self, request, obj=None):
        # The id is the Better Auth `sub`: changing it would orphan the user's tokens.
        readonly = list(super().get_readonly_fields(request, obj))
        return [*readonly, "id"] if obj is not None else readonly

    def save_model(self, request, obj, form, change):
        # Activation goes through the service, as the command and any other caller do.
        if change and "is_active" in form.changed_data:
            active = obj.is_active
            obj.is_active = not active
            super().save_model(request, obj, form, change)
            user_set_active(user=obj, active=active)
        else:
            super().save_model(request, obj, form, change)
        if change and "is_staff" in form.changed_data and obj.is_staff:
            # Staff sign in at the admin only: their standalone refresh tokens are spent.
            refresh_tokens_revoke_all(user=obj)

    def delete_model(self, request, obj):
        # Through the service: the id is kept as a tombstone, so a token issued before the deletion
        # cannot provision the account again (accounts.models.DeletedUser).
        user_delete(user=obj, deleted_by=request.user)

    def delete_queryset(self, request, queryset):
        for user in queryset:
            user_delete(user=user, deleted_by=request.user)

    def _set_active(self, request, queryset, *, active: bool) -> None:
        verb = "reactivated" if active else "deactivated"
        targets = list(queryset.filter(is_active=not active).order_by()[: ACTION_LIMIT + 1])
        if len(targets) > ACTION_LIMIT:
            message = f"An action changes at most {ACTION_LIMIT} users; narrow the list, or use the commands."
            self.message_user(request, message, messages.ERROR)
            return
        changed = []
        for user in targets:
            if user.pk == request.user.pk and not active:
                self.message_user(request, "You cannot deactivate your own account.", messages.ERROR)
                continue
            changed.append(user_set_active(user=user, active=active))
        if changed:
            # One history entry per user, in one insert.
            LogEntry.objects.log_actions(
                request.user.pk, changed, CHANGE, f"{verb.capitalize()} the account."
            )
        self.message_user(request, f"{len(changed)} user(s) {verb}.", messages.SUCCESS)

    @admin.action(description="Deactivate selected users (their tokens are refused at once)")
    def deactivate_users(self, request, queryset):
        self._set_active(request, queryset, active=False)

    @admin.action(description="Reactivate selected users")
    def reactivate_users(self, request, queryset):
        self._set_active(request, queryset, active=True)


@admin.register(DeletedUser)
class DeletedUserAdmin(admin.ModelAdmin):
    """Ids of deleted users, refused by the API. Delete a row to let that id be provisioned again."""

    list_display = ["id", "deleted_at", "deleted_by"]
    search_fields = ["=id"]
    ordering = ["-deleted_at"]
    readonly_fields = ["id", "deleted_at", "deleted_by"]
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
