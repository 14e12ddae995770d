"""The workflows' bytecode, cached for the workflow sandbox.

The sandbox imports a workflow's module afresh for every workflow run it starts (so no run sees
another's module state). Python reads that module from its bytecode cache when there is one,
and compiles the source when there is none: a two-package order starts seven workflows, and
compiling workflows/order.py alone takes about 25 ms of CPU. The cache is off wherever
PYTHONDONTWRITEBYTECODE is set — this project's Docker image sets it — so there every workflow
run compiled its module again. The worker writes the workflows' bytecode once, at start, to a
directory of its own (`sys.pycache_prefix`), where those imports find it; the sandbox itself is
unchanged. Where Python caches bytecode anyway, nothing is done."""

from __future__ import annotations

import atexit
import importlib.util
import py_compile
import shutil
import sys
import tempfile
from pathlib import Path

import workflows


def cache_workflow_bytecode() -> Path | None:
    """Compile every module of the workflows package into a fresh cache directory that this
    process's imports read (removed at exit); the directory, or None when Python caches."""
    if not sys.dont_write_bytecode:
        return None
    prefix = Path(tempfile.mkdtemp(prefix="houtai-bytecode-"))
    atexit.register(shutil.rmtree, prefix, ignore_errors=True)
    sys.pycache_prefix = str(prefix)
    for source in sorted(Path(workflows.__file__).parent.glob("*.py")):
        cached = importlib.util.cache_from_source(str(source))
        py_compile.compile(str(source), cfile=cached, doraise=True)
    return prefix
