"""Entity tags: reading If-Match and If-None-Match (RFC 9110 §13.1), in one place.

A task's ETag is its version, `"<version>"` (strong). Lists carry weak ETags (`W/"..."`).
"""

# No client sends more than one or two; a header naming thousands is read only this far.
MAX_IF_MATCH_TAGS = 64


def version_etag(version: int) -> str:
    return f'"{version}"'


def if_match_versions(header: str | None) -> list[int] | None:
    """The versions an If-Match header accepts, or None when any will do (no header, or `*`).

    Only strong tags of the form "N" can match a version: a weak tag (`W/"3"`) never satisfies
    If-Match (strong comparison), and anything else names no version. An empty list means no
    version can match.
    """
    if header is None:
        return None
    versions: list[int] = []
    for candidate in header.split(",", MAX_IF_MATCH_TAGS)[:MAX_IF_MATCH_TAGS]:
        candidate = candidate.strip()
        if candidate == "*":
            return None
        # Beyond 19 digits (a bigint) no version has it.
        if 2 < len(candidate) <= 21 and candidate[0] == candidate[-1] == '"' and candidate[1:-1].isdigit():
            versions.append(int(candidate[1:-1]))
    return versions


def weak_match(if_none_match: str, etag: str) -> bool:
    """If-None-Match uses the weak comparison: W/"3" matches "3" and the other way round."""
    tag = etag.removeprefix("W/")
    candidates = [candidate.strip().removeprefix("W/") for candidate in if_none_match.split(",")]
    return "*" in candidates or tag in candidates
