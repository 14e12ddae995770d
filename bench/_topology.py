"""The topology of an order lifecycle, counted from workflow histories: per workflow type, how
many workflows and, over them, regular and local activities, timers, signals received and sent,
updates, children, search-attribute upserts and workflow tasks. bench/orders.py prints it for a
recorded history (tests/replay/every/, the newest generation's `order_happy`: a two-package
order), for one live houtai order and for one lifecycle of the floor, so the match is visible."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path

from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client, WorkflowHistory

E = EventType
KINDS: dict[str, int] = {
    "activities": E.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED,
    "local activities": E.EVENT_TYPE_MARKER_RECORDED,  # core_local_activity markers only
    "timers": E.EVENT_TYPE_TIMER_STARTED,
    "signals in": E.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED,
    "signals out": E.EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED,
    "updates": E.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED,
    "children": E.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED,
    "upserts": E.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES,
    "workflow tasks": E.EVENT_TYPE_WORKFLOW_TASK_COMPLETED,
}
# What the floor copies; search-attribute upserts (houtai's visibility) and the workflow tasks
# (what the rest comes to) are shown, not copied.
COPIED = ("activities", "local activities", "timers", "signals in", "signals out", "updates",
          "children")  # fmt: skip
Topology = dict[str, Counter[str]]  # workflow role → kind → count ("workflows" among them)
RECORDED = Path(__file__).resolve().parent.parent / "tests" / "replay" / "every"


def role(workflow_type: str) -> str:
    """The houtai workflow a type stands for: the floor's FloorOrderWorkflow is OrderWorkflow."""
    return workflow_type.removeprefix("Floor")


def count(histories: Iterable[Sequence[HistoryEvent]]) -> Topology:
    found: Topology = defaultdict(Counter)
    for events in histories:
        started = events[0].workflow_execution_started_event_attributes
        counts = found[role(started.workflow_type.name)]
        counts["workflows"] += 1
        for event in events:
            for kind, event_type in KINDS.items():
                if event.event_type != event_type:
                    continue
                marker = event.marker_recorded_event_attributes.marker_name
                if kind != "local activities" or marker == "core_local_activity":
                    counts[kind] += 1
    return dict(found)


def recorded(scenario: str = "order_happy") -> tuple[str, Topology]:
    """The newest recorded generation's histories of a scenario, counted."""
    generation = max(RECORDED.iterdir(), key=lambda p: int(p.name.split("-", 1)[0]))
    files = sorted(generation.glob(f"{scenario}--*.json"))
    histories = [WorkflowHistory.from_json(f.stem, f.read_text()).events for f in files]
    return f"{generation.name}/{scenario}", count(histories)


async def live(client: Client, workflow_ids: Sequence[str]) -> Topology:
    """These workflows' histories and those of the workflows that signalled them and their
    parents (the waves that told a shipment it was picked, and the planners that started those
    waves), counted."""
    seen: set[str] = set()
    todo = list(workflow_ids)
    histories = []
    while todo:
        workflow_id = todo.pop()
        if workflow_id in seen:
            continue
        seen.add(workflow_id)
        events = list((await client.get_workflow_handle(workflow_id).fetch_history()).events)
        histories.append(events)
        parent = events[0].workflow_execution_started_event_attributes.parent_workflow_execution
        todo += [parent.workflow_id] if parent.workflow_id else []
        for event in events:
            sender = event.workflow_execution_signaled_event_attributes.external_workflow_execution
            if event.event_type == E.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED and sender.workflow_id:
                todo.append(sender.workflow_id)
    return count(histories)


def show(topologies: dict[str, Topology]) -> list[str]:
    """Lines of a table: one row per workflow role and source, then whether the floor matches
    the live order in every copied kind (per workflow of each role)."""
    kinds = ("workflows", *KINDS)
    header = ("workflow", "source", *kinds)
    rows = [header]
    roles = sorted({r for t in topologies.values() for r in t}, key=_order)
    for r in roles:
        for source, topology in topologies.items():
            counts = topology.get(r, Counter())
            rows.append((r, source, *(str(counts[k]) for k in kinds)))
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]

    def line(row: tuple[str, ...]) -> str:
        cells = zip(row, widths, strict=True)
        return "  ".join(c.rjust(w) if i > 1 else c.ljust(w) for i, (c, w) in enumerate(cells))

    return [line(row).rstrip() for row in rows]


def differences(houtai: Topology, floor: Topology) -> list[str]:
    """Copied kinds whose count per workflow of a role differs between houtai and the floor
    (waves and planners may serve several orders, so per workflow, not per lifecycle)."""
    found = []
    for r in sorted(set(houtai) | set(floor), key=_order):
        mine, theirs = houtai.get(r, Counter()), floor.get(r, Counter())
        for kind in COPIED:
            a = mine[kind] / max(mine["workflows"], 1)
            b = theirs[kind] / max(theirs["workflows"], 1)
            if abs(a - b) > 1e-9:
                found.append(f"{r} {kind}: houtai {a:g}, floor {b:g} per workflow")
    return found


def _order(r: str) -> tuple[int, str]:
    known = ["OrderWorkflow", "ShipmentWorkflow", "WavePlannerWorkflow", "WaveWorkflow"]
    return (known.index(r) if r in known else len(known), r)
