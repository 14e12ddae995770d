"""Keeping `houtai up`'s own processes running: a crashed worker, API or sandbox is started again
after a backoff, with a log line each time, while the rest of the stack keeps running. A process
that keeps crashing (too many exits within a short window) is given up on: the caller is told,
says so, and stops the stack. Stopping is bounded: SIGTERM, then SIGKILL to the whole process
group of a straggler, so nothing it started keeps a port."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

Spawn = Callable[[], subprocess.Popen[bytes]]


class GaveUp(RuntimeError):
    """A supervised process crashed too often in too short a time."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.name = name


@dataclass
class Backoff:
    """1 s, 2 s, 4 s … up to `cap`; back to the first delay once a process has run `reset_after`
    seconds without crashing."""

    first: float = 1.0
    cap: float = 30.0
    reset_after: float = 30.0

    def delay(self, crashes_in_a_row: int) -> float:
        return min(self.cap, self.first * 2.0 ** max(0, crashes_in_a_row - 1))


@dataclass
class Supervised:
    name: str
    spawn: Spawn
    proc: subprocess.Popen[bytes]
    started: float
    crashes: deque[float] = field(default_factory=deque)  # when it crashed, within the window
    in_a_row: int = 0  # crashes since it last ran long enough to count as healthy
    restart_at: float | None = None  # set while it waits out its backoff
    restarts: int = 0
    gone: bool = False  # seen dead, its process group killed then


def describe_exit(code: int) -> str:
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


class Supervisor:
    """Starts processes, restarts the ones that die, stops them all. Single-threaded: the
    launcher calls `poll()` from its main loop; `log` receives one line per event."""

    def __init__(
        self,
        log: Callable[[str], None],
        *,
        backoff: Backoff | None = None,
        max_crashes: int = 5,
        window_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.log = log
        self.backoff = backoff or Backoff()
        self.max_crashes = max_crashes
        self.window_s = window_s
        self.clock = clock
        self.children: dict[str, Supervised] = {}

    def start(self, name: str, spawn: Spawn) -> subprocess.Popen[bytes]:
        proc = spawn()
        self.children[name] = Supervised(name, spawn, proc, self.clock())
        self.log(f"{name}: started, pid {proc.pid}")
        return proc

    def proc(self, name: str) -> subprocess.Popen[bytes]:
        return self.children[name].proc

    def poll(self) -> None:
        """Notice exits, start again whatever has waited out its backoff. Raises GaveUp for a
        process that crashed `max_crashes` times within `window_s`."""
        now = self.clock()
        for child in self.children.values():
            if child.restart_at is not None:
                if now >= child.restart_at:
                    self._restart(child)
                continue
            code = child.proc.poll()
            if code is not None:
                self._crashed(child, code, now)

    def _crashed(self, child: Supervised, code: int, now: float) -> None:
        if now - child.started >= self.backoff.reset_after:
            child.in_a_row = 0
        child.in_a_row += 1
        child.crashes.append(now)
        while child.crashes and now - child.crashes[0] > self.window_s:
            child.crashes.popleft()
        # Whatever it started dies with it: nothing of the crashed process may keep a port.
        kill_group(child.proc.pid)
        child.gone = True
        if len(child.crashes) >= self.max_crashes:
            raise GaveUp(
                child.name,
                f"{child.name} crashed {len(child.crashes)} times within "
                f"{self.window_s:.0f} s (last: {describe_exit(code)}); giving up",
            )
        delay = self.backoff.delay(child.in_a_row)
        child.restart_at = now + delay
        self.log(
            f"{child.name}: pid {child.proc.pid} died ({describe_exit(code)}); "
            f"restarting in {delay:.0f} s ({len(child.crashes)} crash(es) in the last "
            f"{self.window_s:.0f} s)"
        )

    def _restart(self, child: Supervised) -> None:
        child.proc = child.spawn()
        child.gone = False
        child.started = self.clock()
        child.restart_at = None
        child.restarts += 1
        self.log(f"{child.name}: restarted, pid {child.proc.pid} (restart {child.restarts})")

    def stop(self, names: list[str], deadline: float) -> None:
        """Stop these processes in this order: SIGTERM, wait until `deadline` (a monotonic time)
        for each, then SIGKILL its whole process group."""
        for name in names:
            child = self.children.get(name)
            if child is None:
                continue
            child.restart_at = None
            if child.gone:  # its group was killed when it was seen dead; that id may be reused
                continue
            if child.proc.poll() is None:
                self.log(f"stopping {name}")
                terminate(child.proc, deadline)
            kill_group(child.proc.pid)  # anything it left behind


def terminate(proc: subprocess.Popen[bytes], deadline: float) -> None:
    """SIGTERM, and SIGKILL to its process group if it is still there at `deadline`."""
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(max(0.1, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        kill_group(proc.pid)
        proc.kill()
        proc.wait()


def kill_group(pgid: int) -> None:
    """SIGKILL every process left in a process group (our children lead their own)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)
