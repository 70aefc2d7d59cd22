"""Permissions shared by every `/api/<user_id>/...` route."""

from rest_framework import exceptions
from rest_framework.permissions import BasePermission


class IsUrlUser(BasePermission):
    """The `user_id` in the URL must be the caller's own (the token's `sub`), compared exactly.

    Checked before the view looks anything up, so a mismatch reveals nothing about the other user.
    """

    def has_permission(self, request, view) -> bool:
        if request.user is None:
            return False  # DRF answers 401 not_authenticated
        if view.kwargs.get("user_id") != request.user.pk:
            raise exceptions.PermissionDenied(
                "The user id in the URL is not the one in your token.", code="user_mismatch"
            )
        return True
