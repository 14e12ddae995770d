"""`houtai <command>` imports what the command runs with the garbage collector paused, and
resumes it after, also when an import fails (workers/cli.py `import_for`)."""

from __future__ import annotations

import gc
import subprocess
import sys

import pytest

from workers import cli


def test_every_command_imports_its_modules_with_collection_paused_then_resumed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[tuple[str, bool]] = []
    monkeypatch.setattr(cli.importlib, "import_module", lambda m: seen.append((m, gc.isenabled())))
    assert set(cli.IMPORTS) == set(cli.COMMANDS)
    for command in cli.COMMANDS:
        seen.clear()
        cli.import_for(command)
        assert seen == [(module, False) for module in cli.IMPORTS[command]]
        assert gc.isenabled()


def test_collection_resumes_when_an_import_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(module: str) -> None:
        raise ImportError(module)

    monkeypatch.setattr(cli.importlib, "import_module", broken)
    with pytest.raises(ImportError):
        cli.import_for("api")
    assert gc.isenabled()


def test_the_api_command_finds_the_app_and_its_server_loaded() -> None:
    """In a process of its own, as `houtai api` starts: what serve_api imports is there."""
    code = (
        "import gc, sys; from workers import cli; cli.import_for('api'); "
        "print(gc.isenabled(), 'api.main' in sys.modules, 'workers.serve' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["True", "True", "True"]
