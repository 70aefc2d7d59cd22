"""`make fuzz`: the schema fuzzing of tasks/tests/test_fuzz_schema.py, run long, with its results
written to reliability/results/FUZZ.md.

    .venv/bin/python -m reliability.fuzz --examples 500 --stateful-examples 200 [--seed N]

The same tests CI runs, with thousands of generated requests per operation instead of a dozen and a
fresh seed each time (recorded, so a failure can be replayed with --seed). The database is the one
DATABASE_URL names (pytest-django makes its test_ database there), else SQLite. A failure found here
becomes a test in tasks/tests/test_fuzz_regressions.py before it is fixed.
"""

import argparse
import os
import secrets
import sys
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
RESULTS = BASE_DIR / "reliability" / "results" / "FUZZ.md"
TESTS = "tasks/tests/test_fuzz_schema.py"


class Recorder:
    """A pytest plugin: every request Schemathesis makes (operation and status), every test's outcome."""

    def __init__(self) -> None:
        self.statuses: dict[str, Counter] = defaultdict(Counter)
        self.outcomes: dict[str, str] = {}
        self.failures: dict[str, str] = {}

    def after_call(self, context, case, response) -> None:
        self.statuses[case.operation.label][response.status_code] += 1

    def pytest_runtest_logreport(self, report) -> None:
        if report.when == "call" or report.outcome != "passed":
            name = report.nodeid.split("::", 1)[1]
            self.outcomes[name] = report.outcome
            if report.outcome == "failed":
                self.failures[name] = str(report.longrepr)[:3000]


def render(recorder: Recorder, args, elapsed: float, exit_code: int, database: str) -> str:
    total = sum(sum(counter.values()) for counter in recorder.statuses.values())
    server_errors = sum(
        count for counter in recorder.statuses.values() for status, count in counter.items() if status >= 500
    )
    passed = sum(outcome == "passed" for outcome in recorder.outcomes.values())
    lines = [
        "# Fuzzing against /api/schema/",
        "",
        f"Last run: {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}, `make fuzz` "
        f"(`python -m reliability.fuzz --examples {args.examples} "
        f"--stateful-examples {args.stateful_examples} --steps {args.steps} --seed {args.seed}`) "
        f"on {database}, {elapsed / 60:.1f} minutes.",
        f"Result: **{'PASS' if exit_code == 0 else 'FAIL'}** "
        f"({passed} of {len(recorder.outcomes)} tests passed).",
        "",
        "Checks on every response: not_a_server_error, status_code_conformance, content_type_conformance,",
        "response_schema_conformance. Phases: examples, coverage (boundary and invalid values of every",
        "parameter and body field), fuzzing (generated valid and invalid input), and stateful sequences",
        "following the links Schemathesis infers (create, then read, update, complete, delete that task).",
        "",
        f"Requests: **{total}**, of which 5xx: **{server_errors}**.",
        "",
        "| operation | requests | statuses |",
        "|---|---|---|",
    ]
    for label in sorted(recorder.statuses):
        counter = recorder.statuses[label]
        statuses = ", ".join(f"{status}: {count}" for status, count in sorted(counter.items()))
        lines.append(f"| `{label}` | {sum(counter.values())} | {statuses} |")
    lines += ["", "## Failures", ""]
    if recorder.failures:
        for name, text in recorder.failures.items():
            lines += [f"### {name}", "", "```", text, "```", ""]
    else:
        lines.append("None.")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=500, help="generated cases per operation")
    parser.add_argument("--stateful-examples", type=int, default=200, help="stateful scenarios")
    parser.add_argument("--steps", type=int, default=12, help="calls per stateful scenario at most")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    args.seed = args.seed if args.seed is not None else secrets.randbelow(2**31)
    # Read by the test module when pytest imports it, below.
    os.environ.update(
        FUZZ_MAX_EXAMPLES=str(args.examples),
        FUZZ_STATEFUL_EXAMPLES=str(args.stateful_examples),
        FUZZ_STATEFUL_STEPS=str(args.steps),
        FUZZ_SEED=str(args.seed),
    )
    os.chdir(BASE_DIR)
    sys.path.insert(0, str(BASE_DIR))

    import pytest
    import schemathesis

    recorder = Recorder()

    @schemathesis.hook
    def after_call(context, case, response) -> None:
        recorder.after_call(context, case, response)

    started = time.monotonic()
    exit_code = pytest.main([TESTS, "-p", "no:cacheprovider", "--create-db", "-q"], plugins=[recorder])
    elapsed = time.monotonic() - started

    from django.conf import settings

    engine = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    text = render(recorder, args, elapsed, int(exit_code), "PostgreSQL" if "postgres" in engine else "SQLite")
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(text)
    print(text)
    return int(exit_code)


if __name__ == "__main__":
    sys.exit(main())
