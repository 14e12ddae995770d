"""Admin: staff users (create, roles, warehouse scope, deactivate), roles as data (compose a role
from permissions), API keys (the key is shown once, on the answer to its creation; revoke) and
the audit log with its filters and export (mirrors api/routes/admin.py and roles.py)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from console.catalog_forms import (
    Form,
    day_start,
    fetch_list,
    form_of,
    query_string,
)
from console.client import ApiClient, Json, NotFound, Refused
from console.export import download, every_row, listed
from console.i18n import Translator, format_time
from console.pages import MenuItem, SignedIn, Viewer, render, translator

router = APIRouter()
MENU = (
    MenuItem("nav.users", "/admin/users", "users.manage"),
    MenuItem("nav.audit", "/admin/audit", "audit.read"),
)
AUDIT_FILTERS: Final = (
    "actor_name",
    "action",
    "object_type",
    "object_id",
    "client_ip",
    "from",
    "until",
)


def _root(request: Request) -> str:
    return str(request.scope.get("root_path", ""))


async def _warehouses(api: ApiClient) -> list[Json]:
    rows: list[Json] = (await api.get("/v1/warehouses", {"limit": 500}))["data"]
    return rows


async def _staff_roles(api: ApiClient) -> list[Json]:
    """Roles a person may hold: the built-in staff presets and composed roles (not the keys')."""
    roles: list[Json] = (await api.get("/v1/admin/roles"))["data"]
    return [r for r in roles if r["name"] not in ("storefront", "device")]


def _ids(values: list[str]) -> list[int]:
    return sorted({int(v) for v in values if v.isdigit() and 0 < int(v) < 2**31})


# --- users ----------------------------------------------------------------------------------


async def users_page(
    request: Request, viewer: Viewer, *, form: Form | None = None, status: int = 200
) -> Response:
    listing = await fetch_list(viewer.api, "/v1/admin/users", {}, request.query_params)
    warehouses = await _warehouses(viewer.api)
    return render(
        request,
        "admin/users.html",
        viewer=viewer,
        status=status,
        listing=listing,
        query=lambda **extra: query_string({}, **extra),
        roles=await _staff_roles(viewer.api),
        warehouses=warehouses,
        names={w["id"]: w["name"] for w in warehouses},
        form=form or Form(),
        done=request.query_params.get("done") if status == 200 else None,
    )


@router.get("/admin/users", response_class=HTMLResponse)
async def users(request: Request, viewer: SignedIn) -> Response:
    viewer.require("users.manage")
    return await users_page(request, viewer)


@router.post("/admin/users", response_class=HTMLResponse)
async def create_user(request: Request, viewer: SignedIn) -> Response:
    form = await form_of(request, "user")
    viewer.require("users.manage")
    body = {
        "username": form.get("username").strip(),
        "display_name": form.get("display_name").strip(),
        "password": form.get("password"),
        "roles": form.lists.get("roles", []),
        "warehouse_ids": _ids(form.lists.get("warehouse_ids", [])),
    }
    form.values.setdefault("roles", "")
    form.values.setdefault("warehouse_ids", "")
    form.values["password"] = ""  # never sent back to the browser
    try:
        await viewer.api.post("/v1/admin/users", body)
    except Refused as refusal:
        form.refused(refusal)
        return await users_page(request, viewer, form=form, status=422)
    return RedirectResponse(f"{_root(request)}/admin/users?done=created", 303)


async def _user(api: ApiClient, user_id: int) -> Json:
    async for user in every_row(api, "/v1/admin/users", {}):
        if user["id"] == user_id:
            return user
    raise NotFound


async def user_page(
    request: Request,
    viewer: Viewer,
    user_id: int,
    *,
    form: Form | None = None,
    status: int = 200,
) -> Response:
    return render(
        request,
        "admin/user.html",
        viewer=viewer,
        status=status,
        user=await _user(viewer.api, user_id),
        roles=await _staff_roles(viewer.api),
        warehouses=await _warehouses(viewer.api),
        form=form or Form(),
        done=request.query_params.get("done") if status == 200 else None,
    )


@router.get("/admin/users/{user_id:int}", response_class=HTMLResponse)
async def user_detail(request: Request, user_id: int, viewer: SignedIn) -> Response:
    viewer.require("users.manage")
    return await user_page(request, viewer, user_id)


async def _user_action(
    request: Request, viewer: Viewer, user_id: int, form: Form, body: Json, done: str
) -> Response:
    try:
        await viewer.api.send("PATCH", f"/v1/admin/users/{user_id}", body)
    except Refused as refusal:
        form.refused(refusal)
        return await user_page(request, viewer, user_id, form=form, status=422)
    return RedirectResponse(f"{_root(request)}/admin/users/{user_id}?done={done}", 303)


@router.post("/admin/users/{user_id:int}", response_class=HTMLResponse)
async def edit_user(request: Request, user_id: int, viewer: SignedIn) -> Response:
    """Roles, warehouse scope (none ticked: every warehouse) and display name."""
    form = await form_of(request, "grants")
    viewer.require("users.manage")
    form.values.setdefault("roles", "")
    body = {
        "display_name": form.get("display_name").strip(),
        "roles": form.lists.get("roles", []),
        "warehouse_ids": _ids(form.lists.get("warehouse_ids", [])),
    }
    return await _user_action(request, viewer, user_id, form, body, "saved")


@router.post("/admin/users/{user_id:int}/active", response_class=HTMLResponse)
async def user_active(request: Request, user_id: int, viewer: SignedIn) -> Response:
    form = await form_of(request, "active")
    viewer.require("users.manage")
    active = form.get("active") == "true"
    done = "activated" if active else "deactivated"
    return await _user_action(request, viewer, user_id, form, {"active": active}, done)


# --- roles ----------------------------------------------------------------------------------


async def roles_page(
    request: Request, viewer: Viewer, *, form: Form | None = None, status: int = 200
) -> Response:
    permissions = await viewer.api.get("/v1/admin/permissions")
    return render(
        request,
        "admin/roles.html",
        viewer=viewer,
        status=status,
        roles=(await viewer.api.get("/v1/admin/roles"))["data"],
        permissions=permissions["composable"],
        form=form or Form(),
        done=request.query_params.get("done") if status == 200 else None,
    )


@router.get("/admin/roles", response_class=HTMLResponse)
async def roles(request: Request, viewer: SignedIn) -> Response:
    viewer.require("users.manage")
    return await roles_page(request, viewer)


@router.post("/admin/roles", response_class=HTMLResponse)
async def create_role(request: Request, viewer: SignedIn) -> Response:
    form = await form_of(request, "role")
    viewer.require("users.manage")
    form.values.setdefault("permissions", "")
    body = {
        "name": form.get("name").strip(),
        "description": form.get("description").strip(),
        "permissions": form.lists.get("permissions", []),
    }
    try:
        await viewer.api.post("/v1/admin/roles", body)
    except Refused as refusal:
        form.refused(refusal)
        return await roles_page(request, viewer, form=form, status=422)
    return RedirectResponse(f"{_root(request)}/admin/roles?done=created", 303)


@router.post("/admin/roles/{name}", response_class=HTMLResponse)
async def edit_role(request: Request, name: str, viewer: SignedIn) -> Response:
    """A composed role's description and permissions (a preset cannot change)."""
    form = await form_of(request, f"role:{name}")
    viewer.require("users.manage")
    form.values.setdefault("permissions", "")
    body = {
        "description": form.get("description").strip(),
        "permissions": form.lists.get("permissions", []),
    }
    return await _role_action(request, viewer, form, ("PATCH", name, body), "saved")


@router.post("/admin/roles/{name}/delete", response_class=HTMLResponse)
async def delete_role(request: Request, name: str, viewer: SignedIn) -> Response:
    form = await form_of(request, f"role:{name}")
    viewer.require("users.manage")
    return await _role_action(request, viewer, form, ("DELETE", name, {}), "deleted")


async def _role_action(
    request: Request, viewer: Viewer, form: Form, call: tuple[str, str, Json], done: str
) -> Response:
    method, name, body = call
    try:
        await viewer.api.send(method, f"/v1/admin/roles/{quote(name, safe='')}", body or None)
    except Refused as refusal:
        form.refused(refusal)
        return await roles_page(request, viewer, form=form, status=refusal.status)
    return RedirectResponse(f"{_root(request)}/admin/roles?done={done}", 303)


# --- API keys -------------------------------------------------------------------------------


async def keys_page(
    request: Request,
    viewer: Viewer,
    *,
    form: Form | None = None,
    created: Json | None = None,
    status: int = 200,
) -> Response:
    listing = await fetch_list(viewer.api, "/v1/admin/api-keys", {}, request.query_params)
    warehouses = await _warehouses(viewer.api)
    return render(
        request,
        "admin/keys.html",
        viewer=viewer,
        status=status,
        listing=listing,
        query=lambda **extra: query_string({}, **extra),
        warehouses=warehouses,
        names={w["id"]: w["name"] for w in warehouses},
        form=form or Form(),
        created=created,
        done=request.query_params.get("done") if status == 200 else None,
    )


@router.get("/admin/api-keys", response_class=HTMLResponse)
async def api_keys(request: Request, viewer: SignedIn) -> Response:
    viewer.require("users.manage")
    return await keys_page(request, viewer)


@router.post("/admin/api-keys", response_class=HTMLResponse)
async def create_api_key(request: Request, viewer: SignedIn) -> Response:
    """The new key is in this answer only (never in a URL, a redirect or a later page)."""
    form = await form_of(request, "key")
    viewer.require("users.manage")
    t = translator(request)
    for name in ("name", "role", "warehouse_id"):  # the API's refusals stand next to these
        form.values.setdefault(name, "")
    body: Json = {
        "name": form.get("name").strip(),
        "role": form.get("role"),
        "warehouse_id": form.integer("warehouse_id", t, optional=True),
    }
    if form.errors:
        return await keys_page(request, viewer, form=form, status=422)
    try:
        created = await viewer.api.post("/v1/admin/api-keys", body)
    except Refused as refusal:
        form.refused(refusal)
        return await keys_page(request, viewer, form=form, status=422)
    return await keys_page(request, viewer, created=created, status=201)


@router.post("/admin/api-keys/{key_id:int}/revoke", response_class=HTMLResponse)
async def revoke_api_key(request: Request, key_id: int, viewer: SignedIn) -> Response:
    form = await form_of(request, f"key:{key_id}")
    viewer.require("users.manage")
    try:
        await viewer.api.send("DELETE", f"/v1/admin/api-keys/{key_id}")
    except Refused as refusal:
        form.refused(refusal)
        return await keys_page(request, viewer, form=form, status=422)
    return RedirectResponse(f"{_root(request)}/admin/api-keys?done=revoked", 303)


# --- audit log ------------------------------------------------------------------------------


def audit_filters(query: Mapping[str, str]) -> tuple[dict[str, str], dict[str, Any], list[str]]:
    """The filters as typed, the API's parameters, and the names of invalid ones (dropped)."""
    given = {name: query.get(name, "").strip()[:200] for name in AUDIT_FILTERS}
    params: dict[str, Any] = {k: v for k, v in given.items() if v and k not in ("from", "until")}
    invalid: list[str] = []
    for name, key, next_day in (("from", "since", False), ("until", "until", True)):
        if given[name]:
            instant = day_start(given[name], next_day=next_day)
            if instant is None:
                invalid.append(name)
                given[name] = ""
            else:
                params[key] = instant
    return given, params, invalid


@router.get("/admin/audit", response_class=HTMLResponse)
async def audit(request: Request, viewer: SignedIn) -> Response:
    viewer.require("audit.read")
    filters, params, invalid = audit_filters(request.query_params)
    listing = await fetch_list(viewer.api, "/v1/admin/audit-log", params, request.query_params)
    return render(
        request,
        "admin/audit.html",
        viewer=viewer,
        listing=listing,
        filters=filters,
        invalid=invalid,
        query=lambda **extra: query_string(filters, **extra),
    )


def _audit_header(t: Translator) -> list[str]:
    keys = ("at", "actor", "roles", "action", "object_type", "object_id", "status", "ip", "path")
    return [t(f"admin.audit.col.{k}") for k in keys]


def _audit_row(entry: Json, t: Translator) -> list[str]:
    return [
        format_time(entry["at"]),
        entry["actor_name"],
        ", ".join(entry["roles"]),
        entry["action"],
        entry["object_type"],
        entry["object_id"],
        str(entry["status_code"]),
        entry["client_ip"],
        f"{entry['method']} {entry['path']}",
    ]


@router.get("/admin/audit/export.{kind}")
async def audit_export(request: Request, kind: str, viewer: SignedIn) -> Response:
    viewer.require("audit.read")
    if kind not in ("csv", "xlsx"):
        return await audit(request, viewer)
    _, params, _ = audit_filters(request.query_params)
    t = translator(request)
    rows = listed("/v1/admin/audit-log", params, lambda entry: _audit_row(entry, t))
    sheet = t("admin.audit.sheet")
    return download(
        request, kind=kind, name="audit", sheet=sheet, header=_audit_header(t), rows=rows
    )
