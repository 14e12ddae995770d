"""The workers' bytecode cache for the workflow sandbox (workers/bytecode.py)."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

import workflows
from workers.bytecode import cache_workflow_bytecode


@pytest.fixture
def no_bytecode_writes(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    monkeypatch.setattr(sys, "pycache_prefix", None)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # the directories are made here


def test_every_workflow_module_loads_from_the_cache_without_compiling(
    no_bytecode_writes: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    prefix = cache_workflow_bytecode()
    assert prefix is not None and sys.pycache_prefix == str(prefix)
    sources = sorted(Path(workflows.__file__).parent.glob("*.py"))
    assert {s.name for s in sources} >= {"order.py", "shipment.py", "waves.py"}
    compiled: list[str] = []
    real = importlib.machinery.SourceFileLoader.source_to_code

    def counting(self: importlib.machinery.SourceFileLoader, data: bytes, path: str) -> object:
        compiled.append(path)
        return real(self, data, path)

    monkeypatch.setattr(importlib.machinery.SourceFileLoader, "source_to_code", counting)
    for source in sources:
        cached = Path(importlib.util.cache_from_source(str(source)))
        assert (
            cached.is_relative_to(prefix) and cached.read_bytes()[:4] == importlib.util.MAGIC_NUMBER
        )
        loader = importlib.machinery.SourceFileLoader(f"workflows.{source.stem}", str(source))
        code = loader.get_code(loader.name)
        assert code is not None and code.co_filename == str(source)
    assert compiled == []  # what the sandbox's imports do: read the cache, compile nothing


def test_nothing_is_done_where_python_caches_bytecode(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    monkeypatch.setattr(sys, "pycache_prefix", None)
    assert cache_workflow_bytecode() is None
    assert sys.pycache_prefix is None


def test_every_start_reuses_one_private_directory(no_bytecode_writes: None, tmp_path: Path) -> None:
    """A worker killed hard runs no exit handler: one directory for all starts leaves nothing
    behind per start."""
    first = cache_workflow_bytecode()
    second = cache_workflow_bytecode()
    assert first is not None and first == second
    assert list(tmp_path.iterdir()) == [first]
    assert stat.S_IMODE(first.stat().st_mode) == 0o700


@pytest.mark.parametrize("planted", ["open to others", "a link"])
def test_a_directory_not_this_users_alone_is_not_used(
    no_bytecode_writes: None, tmp_path: Path, planted: str
) -> None:
    shared = tmp_path / f"houtai-bytecode-{os.getuid()}"
    if planted == "a link":
        elsewhere = tmp_path / "elsewhere"
        elsewhere.mkdir(mode=0o700)
        shared.symlink_to(elsewhere)
    else:
        shared.mkdir()
        shared.chmod(0o777)
    prefix = cache_workflow_bytecode()
    assert prefix is not None and prefix.parent == tmp_path
    assert prefix.name.startswith("houtai-bytecode-") and prefix != shared
    assert stat.S_IMODE(prefix.lstat().st_mode) == 0o700 and not prefix.is_symlink()
    assert not any(shared.iterdir())  # nothing written where others could have put code


def test_the_sdks_build_id_is_known_before_the_prefix_so_no_module_is_compiled_for_it(
    tmp_path: Path,
) -> None:
    """In a process of its own (the build id is memoized per process), loaded as a worker
    loads: with PYTHONDONTWRITEBYTECODE, the cache made, then the build id the Worker asks for."""
    probe = """
import importlib.machinery, sys
import workers.worker
from temporalio.worker._worker import load_default_build_id
from workers.bytecode import cache_workflow_bytecode
assert sys.dont_write_bytecode
cache_workflow_bytecode()
compiled = []
real = importlib.machinery.SourceFileLoader.source_to_code
def counting(self, data, path, *args, **kwargs):
    compiled.append(path)
    return real(self, data, path, *args, **kwargs)
importlib.machinery.SourceFileLoader.source_to_code = counting
build_id = load_default_build_id()
print(len(compiled), len(build_id), len(sys.modules))
"""
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "TMPDIR": str(tmp_path)}
    run = subprocess.run(
        [sys.executable, "-c", probe],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    compiled, id_length, modules = (int(n) for n in run.stdout.split())
    assert modules > 500  # the worker's imports, every one of which the hash covers
    assert id_length == 32 and compiled == 0
