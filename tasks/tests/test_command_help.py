"""Every command of the tasks and accounts apps answers --help."""

import pytest
from django.core.management import call_command


@pytest.mark.parametrize(
    "command",
    [
        "seed_demo",
        "purge_tasks",
        "reassign_tasks",
        "export_tasks",
        "import_tasks",
        "normalize_data",
        "purge_idempotency_keys",
        "deactivate_user",
        "reactivate_user",
    ],
)
def test_every_command_explains_itself_with_help(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        call_command(command, "--help")
    assert exit_info.value.code == 0
    assert "usage:" in capsys.readouterr().out
