"""The OpenAPI document tells the truth: schemathesis generates requests for every operation from
the schema the app publishes and checks every answer against it.

The schema is the one create_app builds in process; the requests go to the whole back office
(API, a worker, the Temporal dev server, PostgreSQL with the demo data) over real HTTP, as the
demo admin (bearer token, tests/api/test_schemathesis_admin.py) and as the demo storefront (API
key, tests/api/test_schemathesis_storefront.py): two files, so that the suite's two processes can
run them at once (each takes minutes). Each operation gets a
bounded, derandomized number of valid and of invalid examples (HOUTAI_SCHEMATHESIS_EXAMPLES per
mode, default below), and, where its path names objects of kinds the run knows real ones of (the
demo data, an order placed for the run, a spare user and key the run may change), as many
valid examples aimed at those objects, so that real answers' bodies are checked too. An
operation the identity lacks the permission for answers one request per mode (a 403 from the
permission check, before any input is read: more examples would repeat it). A run
fails on any 5xx, any answer whose status, content type or body
the schema does not declare, and any request left unanswered within the timeout; it prints the
counts either way.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, Verbosity, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.core.result import Err
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import text

from api.main import create_app
from core.security import hash_api_key, new_api_key
from models.db import ApiKey
from tests.support.api import add_user
from tests.support.order_api import lines_of, order_body, place_order, skus_in, staff
from tests.support.stack import Stack
from workers.seed import DEMO_STOREFRONT_KEY

EXAMPLES = int(os.environ.get("HOUTAI_SCHEMATHESIS_EXAMPLES", "5"))
TIMEOUT_S = 30.0
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
# The readiness probe answers 503 "not ready" (a body its schema declares) when Temporal or the
# database does not answer it in time, as under this run's load it sometimes did: an answer,
# not a server error. Its status, content type and body are still checked.
READINESS_PROBE = "GET /readyz"
PROBE_CHECKS = [check for check in CHECKS if check is not not_a_server_error]
UNANSWERED = "Request left unanswered"
STOREFRONT = "storefront (X-API-Key)"
ADMIN = "admin (bearer token)"
PERMISSION_REFUSED = re.compile(r"permission [a-z_.]+ is required")


@dataclass
class Tally:
    operations: int = 0
    requests: int = 0
    no_invalid_input: int = 0  # operations whose input cannot be made invalid
    on_known_objects: int = 0  # operations also run on real objects
    refused: int = 0  # operations the identity may not call: one example per mode, each a 403
    answered_2xx: set[str] = field(default_factory=set)  # operations whose success body was seen
    labels: list[str] = field(default_factory=list)
    by_status: Counter[int] = field(default_factory=Counter)
    failures: Counter[str] = field(default_factory=Counter)
    by_operation: dict[str, Counter[str]] = field(default_factory=dict)
    samples: dict[tuple[str, str], str] = field(default_factory=dict)

    def fail(self, operation: str, kind: str, message: str) -> None:
        self.failures[kind] += 1
        self.by_operation.setdefault(operation, Counter())[kind] += 1
        self.samples.setdefault((operation, kind), message[:800])

    def report(self, who: str) -> str:
        lines = [
            f"schemathesis as {who}: {self.operations} operations "
            f"({self.on_known_objects} also on known objects, "
            f"{self.refused} refused by permission, "
            f"{self.no_invalid_input} without any invalid input, "
            f"{len(self.answered_2xx)} answered 2xx at least once), {self.requests} requests, "
            f"statuses {dict(sorted(self.by_status.items()))}, "
            f"failures {sum(self.failures.values())}: {dict(self.failures.most_common())}"
        ]
        never = sorted(set(self.labels) - self.answered_2xx)
        lines.append(f"  never answered 2xx (success body unchecked): {len(never)}: {never}")
        for operation, kinds in sorted(self.by_operation.items()):
            lines.append(f"  {operation}: {dict(kinds)}")
            for kind in kinds:
                lines.append(f"      e.g. {self.samples[(operation, kind)]!r}")
        return "\n".join(lines)


def _exercise(
    schema: schemathesis.BaseSchema,
    base_url: str,
    headers: dict[str, str],
    known: dict[str, Any],
    tally: Tally,
) -> None:
    """Every operation, EXAMPLES valid and EXAMPLES invalid cases each, and EXAMPLES valid ones
    on known objects (runs in a thread: the stack serves on the test's event loop).

    Except where the run's identity lacks the operation's permission: the permission check
    answers 403 before any input is read, so further examples only repeat that refusal. Each
    run first sends one example; while every answer so far is that refusal, the run stops
    there (one valid, one invalid, one on known objects: each answer still checked against the
    schema); once any answer is something else, every run of the operation sends all of its
    examples (the one already sent is not sent twice)."""
    session = requests.Session()
    for result in schema.get_all_operations():
        if isinstance(result, Err):  # an operation the schema cannot describe
            tally.operations += 1
            tally.fail("(schema)", "Invalid operation in the schema", str(result.err()))
            continue
        operation = result.ok()
        tally.operations += 1
        tally.labels.append(operation.label)
        names = {p.name for p in operation.path_parameters}
        runs: list[tuple[GenerationMode, dict[str, Any] | None]] = [
            (GenerationMode.POSITIVE, None),
            (GenerationMode.NEGATIVE, None),
        ]
        if names and names <= set(known):
            tally.on_known_objects += 1
            runs.append((GenerationMode.POSITIVE, {name: known[name] for name in names}))
        answers = Answers()
        for mode, path in runs:
            sent: set[str] | None = None
            if answers.refused_only:
                sent = _run(operation, mode, path, 1, session, base_url, headers, tally, answers)
                if answers.refused_only:
                    continue
            _run(operation, mode, path, EXAMPLES, session, base_url, headers, tally, answers, sent)
        tally.refused += answers.refused_only


@dataclass
class Answers:
    """What one operation has answered the run's identity so far."""

    refused_only: bool = True  # nothing but permission refusals (or nothing at all) yet


def _refused(response: schemathesis.Response) -> bool:
    """The 403 of the permission check (api/deps.require), given before any input is read."""
    if response.status_code != 403:
        return False
    try:
        body = response.json()
    except ValueError:
        return False
    detail = body.get("detail") if isinstance(body, dict) else None
    return isinstance(detail, str) and bool(PERMISSION_REFUSED.fullmatch(detail))


def _run(
    operation: Any,
    mode: GenerationMode,
    path: dict[str, Any] | None,
    examples: int,
    session: requests.Session,
    base_url: str,
    headers: dict[str, str],
    tally: Tally,
    answers: Answers,
    skip: set[str] | None = None,
) -> set[str]:
    """One hypothesis run of up to `examples` cases, none of those in `skip` (the cases the
    operation's first run of this mode sent) sent again; the cases it sent."""
    sent: set[str] = set()

    @given(case=operation.as_strategy(generation_mode=mode, path_parameters=path))
    @settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
        verbosity=Verbosity.quiet,
    )
    def run(case: Case[Any]) -> None:
        sending = _fingerprint(case)
        if skip is not None and sending in skip:
            return
        sent.add(sending)
        response = _call_and_check(case, session, base_url, headers, tally)
        if response is None or not _refused(response):
            answers.refused_only = False

    try:
        run()
    except Unsatisfiable:
        if mode is GenerationMode.POSITIVE:
            tally.fail(operation.label, "No valid request can be generated", "")
        elif skip is None:  # nothing in the operation's input can be made invalid (e.g. no input)
            # (counted by the mode's first run only)
            tally.no_invalid_input += 1
    return sent


def _fingerprint(case: Case[Any]) -> str:
    return repr(
        (case.method, case.formatted_path, case.query, case.headers, case.cookies, case.body)
    )


def _call_and_check(
    case: Case[Any],
    session: requests.Session,
    base_url: str,
    headers: dict[str, str],
    tally: Tally,
) -> schemathesis.Response | None:
    """Send the case and check the answer; the answer (None when there was none)."""
    label = case.operation.label
    if case.headers:  # the run's credentials, not generated ones (a bad key would shadow them)
        for name in [n for n in case.headers if n.lower() in {"authorization", "x-api-key"}]:
            del case.headers[name]
    tally.requests += 1
    try:
        response = case.call(base_url=base_url, session=session, headers=headers, timeout=TIMEOUT_S)
    except requests.RequestException as exc:
        tally.fail(label, UNANSWERED, f"{type(exc).__name__}: {exc}")
        return None
    tally.by_status[response.status_code] += 1
    if response.status_code < 300:
        tally.answered_2xx.add(label)
    try:
        checks = PROBE_CHECKS if label == READINESS_PROBE else CHECKS
        case.validate_response(response, checks=checks, headers=headers)
    except FailureGroup as group:
        for failure in group.exceptions:
            _record(tally, case, failure, response)
    except Failure as failure:
        _record(tally, case, failure, response)
    return response


def _record(
    tally: Tally, case: Case[Any], failure: Failure, response: schemathesis.Response
) -> None:
    kind = f"{failure.title} ({response.status_code})"
    sent = f"{case.method} {case.formatted_path} query={case.query} body={case.body!r:.200}"
    media = ",".join(response.headers.get("content-type", []))
    answer = f"{media} {response.content[:300].decode(errors='replace')}"
    tally.fail(case.operation.label, kind, f"{failure.message} | sent {sent} | got {answer}")


async def _admin_headers(stack: Stack) -> dict[str, str]:
    """The demo admin signed in as a person does (password and, as admins must, TOTP code)."""
    async with httpx.AsyncClient(base_url=stack.api, timeout=30) as client:
        return await staff(client, "admin")


# path parameter -> the table whose first row the run aims at
_SEEDED = {
    "sku_id": "skus",
    "warehouse_id": "warehouses",
    "product_id": "spus",
    "category_id": "categories",
    "carrier_id": "carriers",
    "supplier_id": "suppliers",
    "location_id": "locations",
    "template_id": "freight_templates",
    "promotion_id": "promotions",
    "batch_id": "location_stocks",
}


async def _known_objects(stack: Stack) -> dict[str, Any]:
    """Real objects for path parameters: the demo data's, an order placed for the run, and a
    spare user and API key (the run may deactivate or revoke them; not the ones it uses)."""
    known: dict[str, Any] = {}
    async with stack.sessions() as session:
        for name, table in _SEEDED.items():
            found = await session.scalar(text(f"SELECT min(id) FROM {table}"))
            if found is not None:
                known[name] = found
        key, prefix = new_api_key()
        spare_key = ApiKey(
            name="schemathesis", prefix=prefix, key_hash=hash_api_key(key), role="storefront"
        )
        session.add(spare_key)
        await session.commit()
        known["key_id"] = spare_key.id
    known["user_id"] = await add_user(stack.sessions, "schemathesis", "cs")
    async with httpx.AsyncClient(base_url=stack.api, timeout=30) as api:
        sku = (await skus_in(stack, "SH01"))[0]
        order = await place_order(api, order_body(lines_of((sku, 1)), key="schemathesis"))
    known["order_no"] = order["order_no"]
    if order.get("packages"):
        known["package_no"] = order["packages"][0]["package_no"]
    return known


async def check_every_operation(stack: Stack, who: str) -> None:
    """The run for one identity (`STOREFRONT` or `ADMIN`): every operation of the schema the app
    publishes, its examples sent over HTTP to the stack and every answer checked."""
    document: dict[str, Any] = create_app().openapi()
    schema = schemathesis.openapi.from_dict(document)
    known = await _known_objects(stack)
    if who == ADMIN:  # logged in just before, the token outlives its run
        headers = await _admin_headers(stack)
    else:
        headers = {"X-API-Key": DEMO_STOREFRONT_KEY}
    tally = Tally()
    await asyncio.to_thread(_exercise, schema, stack.api, headers, known, tally)
    report = tally.report(who)
    print(report)  # noqa: T201  # the figures are the point of the run
    assert tally.operations == len([op for path in document["paths"].values() for op in path])
    assert tally.requests >= tally.operations * 2
    assert "GET /v1/auth/me" in tally.answered_2xx, "the run's credentials were refused"
    assert not tally.failures, report
