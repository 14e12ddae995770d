"""The workers' bytecode cache for the workflow sandbox (workers/bytecode.py)."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import sys
from pathlib import Path

import pytest

import workflows
from workers.bytecode import cache_workflow_bytecode


@pytest.fixture
def no_bytecode_writes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    monkeypatch.setattr(sys, "pycache_prefix", None)


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
