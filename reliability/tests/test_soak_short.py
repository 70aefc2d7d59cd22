"""The soak's short form, in CI: reliability/soak.py for about a minute, PostgreSQL restarted once.

`make soak` runs the long form and writes reliability/results/SOAK.md; this one asserts the same
invariants (see the soak's docstring) on a smaller run and keeps its report in the test's output.
"""

import time

import pytest
from django.conf import settings

from reliability.soak import SoakOptions, render, run_soak
from todo_project.tests.deploy_support import postgres_bin_dir

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(postgres_bin_dir() is None, reason="PostgreSQL's initdb and pg_ctl are not installed"),
    # It brings its own PostgreSQL cluster, whatever the suite runs on: once per CI run is enough.
    pytest.mark.skipif(
        not settings.DATABASES["default"]["ENGINE"].endswith("postgresql"),
        reason="runs in the PostgreSQL pass of the suite only (it makes its own cluster)",
    ),
]

# Seconds. The whole test (cluster, migrations, gunicorn, load, checks) takes about 90 s alone on
# two cores; the bound leaves room for a busy machine (every wait inside has its own timeout).
LOAD = 36
OUTAGE = (12, 6)
BOUND = 240


def test_acknowledged_writes_survive_a_postgresql_restart_under_load(tmp_path):
    started = time.monotonic()
    options = SoakOptions(duration=LOAD, users=12, outages=[OUTAGE], workers=2, threads=4, drain=20, seed=7)

    report = run_soak(options, tmp_path)
    print(render(report, command="pytest reliability/tests/test_soak_short.py"))

    assert report.failures == []
    assert report.statuses[500] == 0
    assert report.statuses_during_outages[503] > 0, "the outage should have been answered with 503s"
    assert report.created > 50 and report.writes["rename"] > 20 and report.deleted > 5
    assert report.unacknowledged == 0
    # Creates whose first answer was dropped unread were answered from the stored response on retry.
    assert report.dropped["create"] > 0 and report.replayed_creates > 0
    [outage] = report.outages
    assert outage["recovery"] is not None and outage["recovery"] < 10
    assert report.gunicorn_pids_unchanged
    assert time.monotonic() - started < BOUND
