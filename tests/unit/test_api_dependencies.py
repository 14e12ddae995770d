"""The API's dependencies live in one place: routes take `Deps`, `actor_of`, `visible_order` /
`VisibleOrder` from api/deps.py and send updates through `update` in api/workflow_calls.py,
which names each process's workflow id the way the workers start it."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

from api.deps import AppDeps, Principal, actor_of
from api.workflow_calls import (
    AFTER_SALE,
    ORDER,
    PACKAGE,
    PURCHASE_ORDER,
    SETTLEMENT,
    UPDATE_RPC_TIMEOUT,
    update,
)
from models.contracts.order import Actor

ROUTES = Path(__file__).resolve().parents[2] / "api" / "routes"
SHARED = {"Deps", "actor_of", "visible_order", "VisibleOrder"}


def _modules() -> dict[str, ast.Module]:
    return {p.name: ast.parse(p.read_text()) for p in sorted(ROUTES.glob("*.py"))}


def test_no_route_module_redefines_what_api_deps_exports() -> None:
    redefined = []
    for name, tree in _modules().items():
        for node in tree.body:
            targets = [t.id for t in getattr(node, "targets", []) if isinstance(t, ast.Name)]
            defined = getattr(node, "name", None)
            for found in [*targets, defined]:
                if found in SHARED:
                    redefined.append(f"{name}: {found}")
    assert redefined == []


def test_routes_take_shared_dependencies_from_api_deps_not_from_each_other() -> None:
    borrowed = [
        f"{name}: {alias.name} from {node.module}"
        for name, tree in _modules().items()
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("api.routes")
        for alias in node.names
        if alias.name in SHARED
    ]
    assert borrowed == []


def test_updates_go_through_the_one_helper() -> None:
    direct = [
        name
        for name, tree in _modules().items()
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and node.attr == "execute_update"
    ]
    # the one left: retrying a late payment's refund, a process named by its transaction
    assert direct == ["orders.py"]


def test_each_process_keeps_the_workflow_ids_the_workers_start() -> None:
    ids = [p.workflow_id("X1") for p in (ORDER, PACKAGE, PURCHASE_ORDER, AFTER_SALE, SETTLEMENT)]
    assert ids == ["order-X1", "shipment-X1", "po-X1", "aftersale-X1", "settle-X1"]
    kinds = [p.kind for p in (ORDER, PACKAGE, PURCHASE_ORDER, AFTER_SALE, SETTLEMENT)]
    assert kinds == ["order", "package", "purchase order", "after-sale", "invoice"]


class _Handle:
    def __init__(self, calls: list[tuple[Any, ...]], workflow_id: str) -> None:
        self.calls, self.workflow_id = calls, workflow_id

    async def execute_update(self, method: Any, arg: Any, **options: Any) -> str:
        self.calls.append((self.workflow_id, method, arg, options))
        return f"answered {arg}"


class _Client:
    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def get_workflow_handle(self, workflow_id: str) -> _Handle:
        return _Handle(self.calls, workflow_id)


async def test_update_sends_to_the_process_by_number_with_its_update_id() -> None:
    client = _Client()
    deps = AppDeps(engine=None, session_factory=None, token_secret="x", temporal=client)  # type: ignore[arg-type]

    def method() -> None: ...

    answer = await update(deps, AFTER_SALE, "AS7", method, "arg", update_id="u-1")  # type: ignore[arg-type]
    assert answer == "answered arg"
    assert client.calls == [
        ("aftersale-AS7", method, "arg", {"id": "u-1", "rpc_timeout": UPDATE_RPC_TIMEOUT})
    ]


def test_actor_of_names_staff_devices_and_storefronts() -> None:
    staff = Principal("user", 1, "li.lei", frozenset({"ops", "cs"}))
    device = Principal("api_key", 2, "pda-1", frozenset({"device"}), warehouse_id=3)
    shop = Principal("api_key", 3, "tmall", frozenset({"storefront"}))
    assert [actor_of(p) for p in (staff, device, shop)] == [
        Actor(kind="user", name="li.lei", role="cs,ops"),
        Actor(kind="device", name="pda-1", role="device"),
        Actor(kind="storefront", name="tmall", role="storefront"),
    ]
