"""CPU time by process of the running stack (`houtai up`'s process tree) and of the bench itself,
read from /proc (Linux): what a figure cost, not only how long it took. A bench takes a
`snapshot()` before and after a phase; `spent(before, after)` is the CPU seconds in between, by
role (the Temporal server, the worker, the API, PostgreSQL, the sandboxes, the bench)."""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path

ROLES = (
    ("temporal server", "Temporal server"),
    ("workers.cli worker", "worker"),
    ("workers.cli api", "API"),
    ("postgres", "PostgreSQL"),
    ("-m sandbox", "sandboxes"),
)
Snapshot = dict[int, tuple[str, float]]  # pid → (role, CPU seconds so far)


def _read(pid: int) -> tuple[int, float, str] | None:
    """(parent pid, user + system CPU seconds, command line), or None once it has gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / ticks, command


def snapshot(root: int) -> Snapshot:
    """Every process under `root` with its role, and this process as "bench"."""
    found = {int(p): r for p in os.listdir("/proc") if p.isdigit() and (r := _read(int(p)))}
    children: dict[int, list[int]] = defaultdict(list)
    for pid, (parent, _, _) in found.items():
        children[parent].append(pid)
    taken: Snapshot = {}
    # A process none of ROLES names takes its parent's role: the API's uvicorn processes
    # (`houtai up --workers N`) are `multiprocessing.spawn` children of `workers.cli api`.
    todo = [(root, "houtai up")]
    while todo:
        pid, inherited = todo.pop()
        role = inherited
        if pid in found:
            _, seconds, command = found[pid]
            role = next((name for key, name in ROLES if key in command), inherited)
            taken[pid] = (role, seconds)
        todo += [(child, role) for child in children.get(pid, [])]
    if (me := found.get(os.getpid())) is not None:
        taken[os.getpid()] = ("bench", me[1])
    return taken


def spent(before: Snapshot, after: Snapshot) -> dict[str, float]:
    """CPU seconds by role between two snapshots (processes started in between count whole)."""
    by_role: dict[str, float] = defaultdict(float)
    for pid, (role, seconds) in after.items():
        by_role[role] += seconds - before.get(pid, (role, 0.0))[1]
    return dict(sorted(by_role.items(), key=lambda item: -item[1]))
