"""One registry of business errors (models/contracts/errors.py): every type raised anywhere is in
it, and the retry policy, the API's problem+json and the OpenAPI document all read it."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from activities.orders import business_error
from api.errors import Problem
from api.openapi import install
from api.workflow_calls import _problem, answer, resent_if_lost
from models.contracts.errors import BUSINESS_ERRORS, DEFAULT, business_error_of
from workflows.common import RETRY

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ("activities", "api", "core", "models", "services", "workers", "workflows")


class _Raised(ast.NodeVisitor):
    """The error types a module gives ApplicationError or business_error: literals, module
    constants, and `type(exc).__name__` read from the enclosing `except (A, B) as exc`."""

    def __init__(self, tree: ast.Module, where: str) -> None:
        self.where = where
        self.constants = {
            target.id: node.value.value
            for node in tree.body
            if isinstance(node, ast.Assign)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
            for target in node.targets
            if isinstance(target, ast.Name)
        }
        self.handlers: list[ast.ExceptHandler] = []
        self.params: list[set[str]] = []
        self.types: dict[str, str] = {}  # type -> first place raised
        self.unresolved: list[str] = []

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        self.handlers.append(node)
        self.generic_visit(node)
        self.handlers.pop()

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self.params.append({a.arg for a in node.args.args + node.args.kwonlyargs})
        self.generic_visit(node)
        self.params.pop()

    visit_AsyncFunctionDef = visit_FunctionDef  # type: ignore[assignment]

    def visit_Call(self, node: ast.Call) -> None:
        name = node.func.id if isinstance(node.func, ast.Name) else None
        if isinstance(node.func, ast.Attribute):
            name = node.func.attr
        if name == "ApplicationError":
            for keyword in node.keywords:
                if keyword.arg == "type":
                    self._take(keyword.value, node.lineno)
        elif name == "business_error" and node.args:
            self._take(node.args[0], node.lineno)
        self.generic_visit(node)

    def _take(self, value: ast.expr, line: int) -> None:
        at = f"{self.where}:{line}"
        if isinstance(value, ast.Constant) and isinstance(value.value, str):
            self.types.setdefault(value.value, at)
        elif isinstance(value, ast.Name) and value.id in self.constants:
            self.types.setdefault(self.constants[value.id], at)
        elif isinstance(value, ast.Name) and self.params and value.id in self.params[-1]:
            pass  # business_error(kind, ...) itself: its callers are read
        elif isinstance(value, ast.Attribute) and value.attr == "type":
            pass  # a refusal passed on with its own type (e.g. the order's rejection)
        elif ast.unparse(value) == "type(exc).__name__" and self.handlers:
            caught = self.handlers[-1].type
            names = caught.elts if isinstance(caught, ast.Tuple) else [caught]
            for caught_name in names:
                assert isinstance(caught_name, ast.Name), at
                self.types.setdefault(caught_name.id, at)
        else:
            self.unresolved.append(f"{at}: {ast.unparse(value)}")


def _raised() -> tuple[dict[str, str], list[str]]:
    types: dict[str, str] = {}
    unresolved: list[str] = []
    for folder in SOURCES:
        for path in sorted((ROOT / folder).rglob("*.py")):
            tree = ast.parse(path.read_text(), filename=str(path))
            visitor = _Raised(tree, str(path.relative_to(ROOT)))
            visitor.visit(tree)
            for kind, at in visitor.types.items():
                types.setdefault(kind, at)
            unresolved += visitor.unresolved
    return types, unresolved


def test_every_error_type_raised_anywhere_is_registered() -> None:
    types, unresolved = _raised()
    assert unresolved == []
    # the scan finds what it should: literals, constants, business_error, type(exc).__name__
    for kind in ("InvalidStateError", "InvalidDataError", "StockShortError", "OverDeliveryError"):
        assert kind in types
    unregistered = {kind: at for kind, at in types.items() if kind not in BUSINESS_ERRORS}
    assert unregistered == {}
    never_raised = set(BUSINESS_ERRORS) - set(types)
    assert never_raised == set()


def test_the_retry_policy_never_retries_a_business_error() -> None:
    assert list(RETRY.non_retryable_error_types or ()) == list(BUSINESS_ERRORS)
    for kind in ("OutOfStockError", "PaymentDeclinedError", "InvalidDataError", "StockShortError"):
        assert kind in (RETRY.non_retryable_error_types or ())


def test_an_activity_raises_a_registered_business_error_final() -> None:
    refused = business_error("OutOfStockError", "2 left", sku_ids=[7])
    assert (refused.type, refused.non_retryable, refused.details) == (
        "OutOfStockError", True, ({"sku_ids": [7]},),
    )  # fmt: skip
    with pytest.raises(KeyError):
        business_error("NoSuchError", "never registered")


def _answer(kind: str | None, *details: Any) -> Problem:
    return _problem(ApplicationError("refused", *details, type=kind))


# What api/workflow_calls.py mapped before the registry: unchanged.
FORMER = {
    "InvalidStateError": (409, None),
    "OutOfStockError": (409, "lines"),
    "InvalidInputError": (422, None),
    "InvalidOrderError": (422, "lines"),
    "CouponNotApplicableError": (422, "coupon_code"),
    "UnserviceableRegionError": (422, "address.region_code"),
    "MissingFreightRuleError": (422, "address.region_code"),
    "PaymentDeclinedError": (409, None),
    "ApprovalError": (409, None),
    "SeparationOfDutiesError": (403, None),
    "OverDeliveryError": (409, "lines"),
    "InvalidReceiptError": (422, "lines"),
    "WrongWarehouseError": (409, "warehouse_id"),
    "InvalidDataError": (422, None),
    "AfterSaleExistsError": (409, None),
}


@pytest.mark.parametrize("kind", sorted(BUSINESS_ERRORS))
def test_a_workflow_refusal_answers_with_its_registered_status_and_field(kind: str) -> None:
    problem = _answer(kind, {"sku_ids": [3]})
    error = BUSINESS_ERRORS[kind]
    assert problem.status == error.status
    assert problem.type == f"/problems/{kind}"
    expected = {"type": kind, "sku_ids": [3], **({"field": error.field} if error.field else {})}
    assert problem.errors == [expected]
    if kind in FORMER:
        assert (error.status, error.field) == FORMER[kind]


def test_the_after_sale_quantity_refusal_no_longer_falls_to_the_default() -> None:
    problem = _answer("AfterSaleQuantityError")
    assert (problem.status, problem.errors) == (
        409, [{"type": "AfterSaleQuantityError", "field": "lines"}],
    )  # fmt: skip
    unknown = _answer("SomethingElseError")
    assert (unknown.status, unknown.errors) == (409, [{"type": "SomethingElseError"}])
    assert business_error_of(None) is DEFAULT


def test_the_openapi_document_describes_every_business_refusal() -> None:
    app = FastAPI()

    @app.get("/ping")
    async def ping() -> dict[str, str]:
        return {}

    install(app)
    schema = app.openapi()["components"]["schemas"]["ProblemDetail"]
    described = schema["description"]
    for kind, error in BUSINESS_ERRORS.items():
        at = f", field `{error.field}`" if error.field else ""
        assert f"- `{kind}`: {error.status}{at}; {error.meaning}" in described
    assert "/problems/AfterSaleQuantityError" in schema["properties"]["type"]["examples"]


@pytest.mark.parametrize(
    ("message", "status"),
    [
        ("workflow execution already completed", 409),  # ended
        ("workflow update was aborted by closing workflow", 409),  # ending as the update came
        ("update 30181b3d-646f-4f02-9c31-0cd40c0c8111 not found", 503),  # lost: may be resent
        ("workflow not found for ID: aftersale-AS1", 404),  # never was
    ],
)
async def test_an_update_to_an_ended_workflow_is_closed_not_missing(
    message: str, status: int
) -> None:
    async def refused() -> None:
        raise RPCError(message, RPCStatusCode.NOT_FOUND, b"")

    with pytest.raises(Problem) as caught:
        await answer(refused(), kind="after-sale", ident="AS1")
    assert caught.value.status == status


def _lost() -> RPCError:
    return RPCError("update place-SO1 not found", RPCStatusCode.NOT_FOUND, b"")


async def test_an_update_the_server_lost_is_sent_again_and_answered() -> None:
    sent: list[int] = []

    async def send() -> str:
        sent.append(1)
        if len(sent) < 3:
            raise _lost()
        return "placed"

    assert await answer(resent_if_lost(send), kind="order", ident="SO1") == "placed"
    assert len(sent) == 3


async def test_an_update_lost_on_every_resend_is_busy_and_other_failures_are_not_resent() -> None:
    sent: list[str] = []

    async def lost() -> str:
        sent.append("lost")
        raise _lost()

    with pytest.raises(Problem) as caught:
        await answer(resent_if_lost(lost, attempts=2), kind="order", ident="SO1")
    assert (caught.value.status, caught.value.type) == (503, "/problems/busy")
    assert caught.value.headers == {"Retry-After": "5"}
    assert sent == ["lost", "lost"]

    async def gone() -> str:
        sent.append("gone")
        raise RPCError("workflow not found for ID: order-SO1", RPCStatusCode.NOT_FOUND, b"")

    with pytest.raises(Problem) as missing:
        await answer(resent_if_lost(gone), kind="order", ident="SO1")
    assert missing.value.status == 404
    assert sent.count("gone") == 1
