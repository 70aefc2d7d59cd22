"""Schemathesis against our own OpenAPI document (/api/schema/): every route and method, fed
generated valid and invalid input with a real Bearer token, must answer without a server error,
with a documented status code, a documented content type and a body that matches the schema.

CI runs a few examples per operation (seeded, so a run is reproducible); `make fuzz` runs
reliability/fuzz.py, which sets FUZZ_MAX_EXAMPLES and friends for thousands. A failure found here
becomes a test in test_fuzz_regressions.py before it is fixed.
"""

import os
import re
import time

import hypothesis
import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections

from core.tests.support import better_auth_claims, sign_hs256

MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "12"))
STATEFUL_EXAMPLES = int(os.environ.get("FUZZ_STATEFUL_EXAMPLES", "8"))
STATEFUL_STEPS = int(os.environ.get("FUZZ_STATEFUL_STEPS", "8"))
# Seeded in CI, so a run fails the same way twice; `make fuzz` passes a fresh seed and records it.
SEED = int(os.environ.get("FUZZ_SEED") or 20261129)
DERANDOMIZE = "FUZZ_SEED" not in os.environ

# Schemathesis generates any string for {user_id}; the routes are the caller's own, so it is pinned
# to the token's sub (a different id is a 403 the isolation tests already cover).
USER_ID = "fuzzUser7Hq2ZkLm3Vx9Tn4Rb8Wc1Ys5"
TOKEN = sign_hs256(better_auth_claims(USER_ID, exp=int(time.time()) + 7 * 24 * 3600))
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
)

config = schemathesis.Config.from_dict(
    {
        "seed": SEED,
        "headers": {"Authorization": f"Bearer {TOKEN}"},
        "parameters": {"path.user_id": USER_ID},
        "generation": {"max-examples": MAX_EXAMPLES, "database": "none"},
        "checks": {"enabled": False, **{name: {"enabled": True} for name in CHECKS}},
    }
)
schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", get_wsgi_application(), config=config)


@pytest.fixture(autouse=True)
def _fuzzable_server(settings, db):
    """The real stack, minus what would only slow the fuzzer down: rate limits and Argon2."""
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"user": None, "auth": None},
    }
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _keep_the_test_transaction():
    """Schemathesis calls the WSGI application directly, so Django's request_finished signal would
    close the connection that holds the test's transaction (Django's own test client disconnects it
    the same way)."""
    for signal in (signals.request_started, signals.request_finished):
        signal.disconnect(close_old_connections)
    yield
    for signal in (signals.request_started, signals.request_finished):
        signal.connect(close_old_connections)


def _as_our_user(case: schemathesis.Case) -> None:
    if case.path_parameters and "user_id" in case.path_parameters:
        case.path_parameters["user_id"] = USER_ID


def _operation_test(label: str):
    def test(case):
        _as_our_user(case)
        case.call_and_validate()

    test.__doc__ = f"{label} answers every generated request as the schema documents."
    return pytest.mark.slow(schema.include(name=label).parametrize()(test))


# One test function per operation, named after it: under pytest 9 the tests `schema.parametrize()`
# makes for each operation would all share one node id, which -k, xdist and reports cannot tell apart.
for _operation in (result.ok() for result in schema.get_all_operations()):
    _name = re.sub(r"[^a-z0-9]+", "_", _operation.label.lower()).strip("_")
    globals()[f"test_{_name}_answers_as_documented"] = _operation_test(_operation.label)


class TaskWorkflow(schema.as_state_machine()):
    """Sequences of calls that follow the links Schemathesis infers (create, then read, update,
    complete, delete that task), so ids are real ones and not only 404s."""

    failures: list[BaseException] = []

    def before_call(self, case: schemathesis.Case) -> None:
        _as_our_user(case)

    def validate_response(self, response, case, additional_checks=None, **kwargs) -> None:
        try:
            super().validate_response(response, case, additional_checks=additional_checks, **kwargs)
        except Exception as failure:
            TaskWorkflow.failures.append(failure)
            raise


def _hypothesis_gave_up_replaying(error: BaseException) -> bool:
    """What the next value to draw is depends on the server's answers (ids, links), and the database
    keeps changing, so Hypothesis may find that a scenario it replays draws differently and stop with
    Flaky (or an assertion inside its data tree). Schemathesis's own runner treats that as the end of
    the run, not a failure; a check that failed was recorded when it happened and still fails."""
    if isinstance(error, hypothesis.errors.Flaky):
        return True
    frame = error.__traceback__
    while frame is not None and frame.tb_next is not None:
        frame = frame.tb_next
    return (
        isinstance(error, AssertionError)
        and frame is not None
        and "hypothesis" in frame.tb_frame.f_globals["__name__"]
    )


@pytest.mark.slow
def test_workflows_of_linked_calls_answer_as_documented():
    TaskWorkflow.failures.clear()
    settings = hypothesis.settings(
        max_examples=STATEFUL_EXAMPLES,
        stateful_step_count=STATEFUL_STEPS,
        deadline=None,
        derandomize=DERANDOMIZE,
        database=None,
        suppress_health_check=list(hypothesis.HealthCheck),
        # Shrinking replays a scenario against a database its first run changed (see above).
        phases=[hypothesis.Phase.explicit, hypothesis.Phase.reuse, hypothesis.Phase.generate],
    )
    try:
        TaskWorkflow.run(settings=settings)
    except Exception as error:
        if not _hypothesis_gave_up_replaying(error):
            raise
        if TaskWorkflow.failures:
            raise TaskWorkflow.failures[0] from error
