"""`manage.py check --deploy`: a production deployment pins the issuer and audience of Better Auth's
tokens, so that a token Better Auth minted for another service (or another site) is not taken here."""

from django.conf import settings
from django.core.checks import Tags, Warning, register


@register(Tags.security, deploy=True)
def better_auth_issuer_and_audience(app_configs, **kwargs) -> list[Warning]:
    warnings = []
    if not settings.BETTER_AUTH_ISSUER:
        warnings.append(
            Warning(
                "BETTER_AUTH_ISSUER is not set, so the iss of Better Auth's tokens is not checked.",
                hint="Set it to the iss Better Auth's jwt plugin puts in its tokens, e.g. https://app.example.com.",
                id="accounts.W001",
            )
        )
    if not settings.BETTER_AUTH_AUDIENCE:
        warnings.append(
            Warning(
                "BETTER_AUTH_AUDIENCE is not set, so the aud of Better Auth's tokens is not checked.",
                hint="Set it to the audience pinned in Better Auth's jwt plugin, e.g. https://api.example.com.",
                id="accounts.W002",
            )
        )
    return warnings
