"""The workflows' bytecode, cached for the workflow sandbox.

The sandbox imports a workflow's module afresh for every workflow run it starts (so no run sees
another's module state). Python reads that module from its bytecode cache when there is one,
and compiles the source when there is none: a two-package order starts seven workflows, and
compiling workflows/order.py alone takes about 25 ms of CPU. The cache is off wherever
PYTHONDONTWRITEBYTECODE is set — this project's Docker image sets it — so there every workflow
run compiled its module again. The worker writes the workflows' bytecode once, at start, to a
directory of its own (`sys.pycache_prefix`), where those imports find it; the sandbox itself is
unchanged. Where Python caches bytecode anyway, nothing is done.

The directory is one per user, reused by every worker start: a worker stopped by SIGKILL (or an
orchestrator's hard stop) runs no exit handler, so a directory per process was left behind at
each such stop. Files in it are named after their source's full path, so checkouts don't
collide, and each start rewrites its own. A directory of that name that is not this user's
alone (someone else's, or writable by others) is not trusted: a private one is made for the
process instead and removed at its exit.

The prefix sends every later bytecode lookup there, including the SDK's: a Worker without an
explicit build id names its build by hashing the bytecode of every module loaded, read through
each module's loader, and with the prefix set those loaders found no bytecode and compiled the
source of all of them again (about a thousand modules: 4 s of CPU at every worker start, more
than the rest of the start). The build id is computed, and memoized by the SDK, before the prefix
is set, from the bytecode the process's imports just read."""

from __future__ import annotations

import atexit
import importlib.util
import os
import py_compile
import shutil
import stat
import sys
import tempfile
from pathlib import Path

from temporalio.worker._worker import load_default_build_id

import workflows


def cache_workflow_bytecode() -> Path | None:
    """Compile every module of the workflows package into the cache directory that this
    process's imports read; the directory, or None when Python caches."""
    if not sys.dont_write_bytecode:
        return None
    load_default_build_id()  # memoized: the Worker's own call reads it, not the modules again
    prefix = _shared_directory()
    if prefix is None:
        prefix = Path(tempfile.mkdtemp(prefix="houtai-bytecode-"))
        atexit.register(shutil.rmtree, prefix, ignore_errors=True)
    sys.pycache_prefix = str(prefix)
    for source in sorted(Path(workflows.__file__).parent.glob("*.py")):
        cached = importlib.util.cache_from_source(str(source))
        py_compile.compile(str(source), cfile=cached, doraise=True)
    return prefix


def _shared_directory() -> Path | None:
    """This user's bytecode directory in the temporary directory, made private if new; None
    when it can't be made or isn't this user's alone."""
    path = Path(tempfile.gettempdir()) / f"houtai-bytecode-{os.getuid()}"
    try:
        path.mkdir(mode=0o700, exist_ok=True)
        status = path.lstat()
    except OSError:
        return None
    mine = stat.S_ISDIR(status.st_mode) and status.st_uid == os.getuid()
    return path if mine and status.st_mode & 0o077 == 0 else None
