"""The supervisor of `houtai up` on real child processes and a hand-driven clock: a crashed
process comes back after a growing backoff, one that keeps crashing is given up on, and a
straggler that ignores SIGTERM is killed with everything it started."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from workers import embedded
from workers.embedded import free_port
from workers.supervisor import Backoff, GaveUp, Supervisor

SLEEPER = "import time; time.sleep(60)"
STUBBORN = (  # ignores SIGTERM, and starts a grandchild in its process group that does too
    "import signal, subprocess, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
    "subprocess.Popen([sys.executable, '-c', "
    "'import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)']); "
    "print('ready', flush=True); time.sleep(60)"
)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def python(code: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", code], start_new_session=True)


def wait_dead(proc: subprocess.Popen[bytes]) -> int:
    return proc.wait(10)


@pytest.fixture
def lines() -> list[str]:
    return []


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def supervisor(lines: list[str], clock: Clock) -> Iterator[Supervisor]:
    backoff = Backoff(first=1, cap=8)
    sup = Supervisor(lines.append, backoff=backoff, max_crashes=4, window_s=60, clock=clock)
    yield sup
    sup.stop(list(sup.children), time.monotonic() + 5)


def test_a_killed_process_is_restarted_after_a_growing_backoff(
    supervisor: Supervisor, lines: list[str], clock: Clock
) -> None:
    first = supervisor.start("worker", lambda: python(SLEEPER))
    pids = [first.pid]
    for delay in (1, 2, 4):
        current = supervisor.proc("worker")
        current.send_signal(signal.SIGKILL)
        wait_dead(current)
        supervisor.poll()
        assert f"died (killed by SIGKILL); restarting in {delay} s" in lines[-1]
        clock.now += delay - 0.5
        supervisor.poll()
        assert supervisor.proc("worker").pid == current.pid  # still waiting out the backoff
        clock.now += 0.5
        supervisor.poll()
        assert supervisor.proc("worker").pid != current.pid
        assert supervisor.proc("worker").poll() is None
        assert "restarted" in lines[-1]
        pids.append(supervisor.proc("worker").pid)
    assert len(set(pids)) == 4
    assert supervisor.children["worker"].restarts == 3


def test_a_process_that_ran_long_enough_starts_again_from_the_first_delay(
    supervisor: Supervisor, lines: list[str], clock: Clock
) -> None:
    supervisor.start("api", lambda: python(SLEEPER))
    for _ in range(2):
        proc = supervisor.proc("api")
        proc.kill()
        wait_dead(proc)
        supervisor.poll()
        clock.now += 10
        supervisor.poll()
    assert "restarting in 2 s" in lines[-2]
    clock.now += 120  # healthy for two minutes
    proc = supervisor.proc("api")
    proc.kill()
    wait_dead(proc)
    supervisor.poll()
    assert "restarting in 1 s" in lines[-1]


def test_a_process_crashing_repeatedly_within_the_window_is_given_up(
    supervisor: Supervisor, clock: Clock
) -> None:
    supervisor.start("worker", lambda: python("import sys; sys.exit(3)"))
    with pytest.raises(GaveUp, match=r"worker crashed 4 times within 60 s \(last: exit code 3\)"):
        for _ in range(10):
            wait_dead(supervisor.proc("worker"))
            supervisor.poll()
            clock.now += 9  # past each backoff (1, 2, 4, 8), all inside one minute
            supervisor.poll()


def test_stop_kills_a_straggler_and_its_process_group_by_the_deadline(
    supervisor: Supervisor,
) -> None:
    def stubborn() -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, "-c", STUBBORN], stdout=subprocess.PIPE, start_new_session=True
        )

    proc = supervisor.start("api", stubborn)
    assert proc.stdout is not None and proc.stdout.readline() == b"ready\n"
    began = time.monotonic()
    supervisor.stop(["api"], began + 1.0)
    assert 0.9 <= time.monotonic() - began < 5
    assert proc.returncode == -signal.SIGKILL
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:  # the grandchild is gone with the group
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        raise AssertionError("a process of the stopped group is still alive")


def test_free_ports_are_below_the_kernels_range_for_outgoing_connections() -> None:
    """An outgoing connection's own port comes from ip_local_port_range: a port given to a
    server that binds it seconds later must not come from there."""
    low = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])  # noqa: SIM115
    ports = {free_port() for _ in range(50)}
    assert all(1024 <= port < low for port in ports)
    assert len(ports) == 50  # never the same twice
    for port in ports:  # and each is free to listen on
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", port))


def test_a_port_drawn_again_is_not_given_again(monkeypatch: pytest.MonkeyPatch) -> None:
    """A stack's ports are asked for before any server binds one: a second draw of the same
    port had two of its servers fight over it ("port … is taken", 1 stack start in 270)."""
    first = free_port()
    others = [first - n for n in range(1, 50)]  # below it: still under the kernel's range
    draws = iter([first, first, *others])
    monkeypatch.setattr(embedded.random, "randint", lambda low, high: next(draws))
    second = free_port()
    assert second != first and second in others
