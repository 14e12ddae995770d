"""The workflow sandbox's own snippets of source, compiled once per process.

The SDK's sandbox (temporalio.worker.workflow_sandbox._runner) enters a workflow by `exec`-ing
a short, fixed string of source: once for every activation, and once for every payload sequence
its data converter visits (for the payload's serialization context), three passes in and three
out per activation. `exec` of a string compiles it every time (about 40 µs here), so a replayed
order compiled the same few strings hundreds of times: about 8% of the worker's CPU while
payment deadlines fired (py-spy, bench/open_orders.py).

`compile_sandbox_code_once` gives that module an `exec` of its own (a module's globals come
before the builtins) that compiles each distinct string once and runs the code object with the
same globals and locals. What runs, and the sandbox's restrictions, are unchanged; only the
repeated compile goes. The strings are the SDK's literals and the workflow classes' import
lines, a few dozen at most; the cache is bounded anyway.

`SandboxValidatedOnce` is the SDK's sandbox runner that validates each workflow class once per
process: a Worker validates every workflow it is given by instantiating it in a fresh sandbox
(about 150 ms of CPU for houtai's), and the tests build a worker for every test in one process.
The outcome depends only on the class and the sandbox's restrictions, both fixed for the
process; a class that failed is validated again (and fails again) by the next worker."""

from __future__ import annotations

import builtins
import functools
from dataclasses import dataclass
from types import CodeType
from typing import Any

from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, _runner
from temporalio.workflow import _Definition

_VALIDATED: set[tuple[type, int]] = set()


@functools.lru_cache(maxsize=256)
def compiled(source: str) -> CodeType:
    """The code object `exec(source)` would compile (same file name, same mode)."""
    return compile(source, "<string>", "exec")


def exec_compiled_once(
    source: str | CodeType, globals: dict[str, Any] | None = None, locals: Any = None, /
) -> None:
    code = compiled(source) if isinstance(source, str) else source
    builtins.exec(code, globals, locals)  # noqa: S102 -- the SDK's own snippets, as it ran them


def compile_sandbox_code_once() -> None:
    """Install the sandbox runner's `exec` (idempotent; the same for every worker in the
    process)."""
    _runner.exec = exec_compiled_once  # type: ignore[attr-defined]


@dataclass(frozen=True)
class SandboxValidatedOnce(SandboxedWorkflowRunner):
    """SandboxedWorkflowRunner (default restrictions) validating each workflow class once per
    process (see the module's docstring)."""

    def prepare_workflow(self, defn: _Definition) -> None:
        key = (defn.cls, id(self.restrictions))
        if key in _VALIDATED:
            return
        super().prepare_workflow(defn)
        _VALIDATED.add(key)
