"""The README's configuration table lists every environment variable the settings read."""

import re
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[2]
_READ = re.compile(
    r"""(?:os\.environ\.get|os\.getenv|env_bool|env_int|env_list|env_rate)\(\s*["']([A-Z0-9_]+)["']"""
)


def variables_read(*modules: str) -> set[str]:
    return {name for module in modules for name in _READ.findall((BASE_DIR / module).read_text())}


def test_readme_documents_every_environment_variable():
    read = variables_read("todo_project/settings.py", "todo_project/urls.py")
    assert "DATABASE_URL" not in read  # dj-database-url reads it itself
    read.add("DATABASE_URL")
    readme = (BASE_DIR / "README.md").read_text()
    documented = set(re.findall(r"^\| `([A-Z0-9_]+)` \|", readme, flags=re.MULTILINE))
    assert read - documented == set(), "add these to the README's configuration table"
    assert len(read) > 20  # the pattern still finds the settings' reads
