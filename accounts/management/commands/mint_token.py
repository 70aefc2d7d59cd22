"""Print a valid access token for a user id, for development and operators' checks."""

import re
from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from accounts.models import USER_ID_PATTERN
from accounts.selectors import user_find
from accounts.tokens import access_token_for


class Command(BaseCommand):
    help = "Print an HS256 access token of Better Auth's shape for USER_ID (signed with BETTER_AUTH_SECRET)."

    def add_arguments(self, parser):
        parser.add_argument("user_id", help="The user id (the token's sub).")
        parser.add_argument("--email", default=None, help="Email claim (default: the user's, if known).")
        parser.add_argument("--name", default=None, help="Name claim (default: the user's, if known).")
        parser.add_argument(
            "--ttl", type=int, default=settings.ACCESS_TOKEN_LIFETIME_SECONDS, help="Lifetime in seconds."
        )

    def handle(self, *, user_id, email, name, ttl, **options):
        if not re.fullmatch(USER_ID_PATTERN, user_id):
            raise CommandError("USER_ID must be 1 to 128 characters of A-Z a-z 0-9 . _ ~ -")
        if ttl <= 0:
            raise CommandError("--ttl must be a positive number of seconds.")
        if ttl > settings.JWT_MAX_LIFETIME_SECONDS:
            # The API refuses such a token (JWT_MAX_LIFETIME_SECONDS); printing one would only mislead.
            raise CommandError(
                f"--ttl must be at most JWT_MAX_LIFETIME_SECONDS ({settings.JWT_MAX_LIFETIME_SECONDS})."
            )
        if not settings.BETTER_AUTH_SECRET:
            raise CommandError("BETTER_AUTH_SECRET is not set; there is no key to sign with.")
        user = user_find(user_id=user_id)
        token = access_token_for(
            user_id=user_id,
            email=email if email is not None else (user.email if user else ""),
            name=name if name is not None else (user.name if user else ""),
            created_at=user.date_joined if user else None,
            lifetime=timedelta(seconds=ttl),
        )
        self.stdout.write(str(token))
