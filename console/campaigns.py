"""What the campaign parts (flash sales, presales, group buys) and transfers share: a list with
filters whose rows htmx swaps and exports, a form that creates one through /v1 (the form again
with what is wrong, else its page), a page that watches it live and shows what was just done,
and an action posted from that page (a stop, an approval) with its reason checked first.

A part names itself once (`Part`: its address, its /v1 list, its templates' folder, who may
read it) and keeps what is its own: the body its form makes, the figures its page shows."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from console.client import Json, Refused
from console.form_fields import path_id
from console.i18n import Translator
from console.lists import (
    Check,
    Filters,
    back_to,
    export,
    fetch_page,
    fragment_url,
    from_list,
    page_number,
    warehouse_names,
)
from console.pages import SignedIn, Viewer, is_fragment_request, render, translator
from console.security import CSRF_FIELD, check_csrf

Form = dict[str, str]
Row = Callable[[Json, Translator], list[str]]
Header = Callable[[Translator], list[str]]
# The page again, showing why the post did not go through (text, status)
Again = Callable[[str, int], Awaitable[Response]]
# One's page's context, from its id
ContextOf = Callable[[int], Awaitable[dict[str, Any]]]
# One's page's context, for the person, from its id
ViewerContext = Callable[[Viewer, int], Awaitable[dict[str, Any]]]
# The form page again, with what was typed and why it was refused (form, text, status)
FormAgain = Callable[[Form, str, int], Awaitable[Response]]
# What else the form shows (its choices: the warehouses, its empty lines)
Choices = Callable[[Viewer], Awaitable[dict[str, Any]]]
# The body /v1 takes from the form, or what is wrong with the form (in the person's words)
BodyOf = Callable[[Viewer, Form, Translator], Awaitable[Json | str]]


async def posted(request: Request) -> Form:
    """The posted form's text fields."""
    form = await request.form()
    return {k: v for k, v in form.items() if isinstance(v, str)}


async def checked_form(request: Request, viewer: Viewer, permission: str) -> Form:
    """The posted form, once its CSRF token is checked and the person may post it."""
    form = await posted(request)
    check_csrf(request, form.get(CSRF_FIELD))
    viewer.require(permission)
    return form


def fragment(
    request: Request, viewer: Viewer, template: str, path: str, context: dict[str, Any]
) -> Response:
    """The rows htmx swaps in, with the shareable address of the list they show."""
    shown = render(request, template, viewer=viewer, **context)
    shown.headers["HX-Push-Url"] = fragment_url(request, path, context["filters"], context["page"])
    return shown


def shown_done(request: Request, done: Collection[str]) -> str:
    """What the page says was just done (`?done=` after an action), when it is one it knows."""
    said = request.query_params.get("done", "")
    return said if said in done else ""


@dataclass(frozen=True)
class Part:
    """One part's list and pages: its console address, its /v1 list, its templates' folder,
    the permission to read it, its list's filters and what its pages say was done."""

    path: str  # "/flash-sales"
    api: str  # "/v1/flash-sales"
    folder: str  # "flash_sales": list.html, _rows.html, new.html, detail.html
    read: str  # "promotions.read"
    filters: Mapping[str, Check]
    done: Collection[str] = ()
    default_sort: str = ""
    warehouses: bool = False  # the list names warehouses

    def read_filters(self, request: Request) -> Filters:
        return Filters.read(request.query_params, self.filters, default_sort=self.default_sort)

    async def list_page(self, request: Request, viewer: Viewer, **page: Any) -> Response:
        """The list under the query's filters: its rows for htmx, else the whole page with
        `page`'s extras (the choices of the filters, whether a new one may be made)."""
        viewer.require(self.read)
        filters = self.read_filters(request)
        number = page_number(request.query_params)
        listing = await fetch_page(viewer.api, self.api, filters.api_params(), number)
        context: dict[str, Any] = {**listing, "filters": filters}
        if self.warehouses:
            context["warehouses"] = await warehouse_names(viewer.api)
        if is_fragment_request(request):
            return fragment(request, viewer, f"{self.folder}/_rows.html", self.path, context)
        return render(request, f"{self.folder}/list.html", viewer=viewer, **page, **context)

    async def export(
        self, request: Request, viewer: Viewer, kind: str, name: str, header: Header, row: Row
    ) -> Response:
        """Exactly the filtered rows, as CSV or XLSX named `name`."""
        viewer.require(self.read)
        rows = from_list(self.api, self.read_filters(request).api_params(), row)
        return await export(request, viewer.api, kind, name, header(translator(request)), rows)

    def form_pages(
        self,
        router: APIRouter,
        permission: str,
        body_of: BodyOf,
        *,
        choices: Choices | None = None,
        blank: Form | None = None,
        key: str = "id",
        done: str = "created",
    ) -> None:
        """Adds to the part's router the form to make a new one (`{path}/new`, `blank` filled
        in, with `choices`) and its post, which `create`s it. Call it before one's page
        (`{path}/{id}`): the first route that matches an address answers it."""

        async def page(
            request: Request, viewer: Viewer, form: Form, refusal: str = "", status: int = 200
        ) -> Response:
            extra = await choices(viewer) if choices else {}
            return render(
                request,
                f"{self.folder}/new.html",
                viewer=viewer,
                status=status,
                form=form,
                refusal=refusal,
                **extra,
            )

        @router.get(f"{self.path}/new", response_class=HTMLResponse)
        async def new(request: Request, viewer: SignedIn) -> Response:
            viewer.require(permission)
            return await page(request, viewer, dict(blank or {}))

        @router.post(f"{self.path}/new", response_class=HTMLResponse)
        async def create(request: Request, viewer: SignedIn) -> Response:
            async def again(form: Form, refusal: str, status: int) -> Response:
                return await page(request, viewer, form, refusal, status)

            return await self.create(
                request, viewer, permission, body_of, again, key=key, done=done
            )

    async def create(
        self,
        request: Request,
        viewer: Viewer,
        permission: str,
        body_of: BodyOf,
        again: FormAgain,
        *,
        key: str = "id",
        done: str = "created",
    ) -> Response:
        """Posts the form's body to /v1 and goes to the new one's page (named by its `key`);
        a form the console or /v1 refuses comes back with why."""
        form = await checked_form(request, viewer, permission)
        body = await body_of(viewer, form, translator(request))
        if isinstance(body, str):
            return await again(form, body, 422)
        try:
            created = await viewer.api.post(self.api, body)
        except Refused as refusal:
            return await again(form, refusal.detail, refusal.status)
        return back_to(request, f"{self.path}/{created[key]}", done=done)

    def detail_page(
        self,
        request: Request,
        viewer: Viewer,
        context: dict[str, Any],
        refusal: str = "",
        status: int = 200,
        done: str | None = None,
    ) -> Response:
        """One's page with what was just done (from the address unless `done` says) or why an
        action was refused."""
        return render(
            request,
            f"{self.folder}/detail.html",
            viewer=viewer,
            status=status,
            refusal=refusal,
            done=shown_done(request, self.done) if done is None else done,
            **context,
        )

    def watched_pages(
        self,
        router: APIRouter,
        context_of: ViewerContext,
        need_reason: str,
        page_context: ViewerContext | None = None,
    ) -> None:
        """Adds to the part's router one's page (`{path}/{id}`), the live part the page polls
        while it runs (`{path}/{id}/watch`) and its early stop (`{path}/{id}/stop`), all three
        showing `context_of` one; the whole page (and the stop's answer) shows `page_context`
        when given (what only the page shows, not fetched at every poll). Call it after the
        part's own `{path}/...` routes (`new`, `export.csv`): the first route that matches an
        address answers it."""
        whole = page_context or context_of

        @router.get(f"{self.path}/{{number}}", response_class=HTMLResponse)
        async def page(request: Request, number: str, viewer: SignedIn) -> Response:
            viewer.require(self.read)
            context = await whole(viewer, path_id(number))
            return self.detail_page(request, viewer, context)

        @router.get(f"{self.path}/{{number}}/watch", response_class=HTMLResponse)
        async def watch(request: Request, number: str, viewer: SignedIn) -> Response:
            viewer.require(self.read)
            return self.live(request, viewer, await context_of(viewer, path_id(number)))

        @router.post(f"{self.path}/{{number}}/stop", response_class=HTMLResponse)
        async def stop(request: Request, number: str, viewer: SignedIn) -> Response:
            mine = partial(whole, viewer)
            return await self.stop(request, viewer, number, mine, need_reason)

    def live(self, request: Request, viewer: Viewer, context: dict[str, Any]) -> Response:
        """The live part of one's page, which the page polls while it runs."""
        return render(request, f"{self.folder}/_live.html", viewer=viewer, **context)

    async def stop(
        self,
        request: Request,
        viewer: Viewer,
        number: str,
        context_of: ContextOf,
        need_reason: str,
        permission: str = "promotions.write",
    ) -> Response:
        """Stops one early (with a reason): back to its page saying so, or its page again
        saying why not."""

        async def again(refusal: str, status: int) -> Response:
            context = await context_of(path_id(number))
            return self.detail_page(request, viewer, context, refusal, status)

        return await self.act(
            request,
            viewer,
            number,
            "stop",
            permission=permission,
            done="stopped",
            again=again,
            need_reason=need_reason,
            parse=path_id,
        )

    async def act(
        self,
        request: Request,
        viewer: Viewer,
        number: str,
        action: str,
        *,
        permission: str,
        done: str,
        again: Again,
        need_reason: str = "",
        parse: Callable[[str], object] = str,
    ) -> Response:
        """Posts the action on the one `number` names (read by `parse` once the post is checked)
        to /v1 and comes back to its page saying it is done. With `need_reason` (the words to
        say when it is missing) the form's reason goes with it; a missing reason or the API's
        refusal shows the page again, saying why."""
        form = await checked_form(request, viewer, permission)
        ident = parse(number)
        body: Json = {}
        if need_reason:
            reason = form.get("reason", "").strip()
            if len(reason) < 2:
                return await again(translator(request)(need_reason), 422)
            body = {"reason": reason[:500]}
        try:
            await viewer.api.post(f"{self.api}/{ident}/{action}", body)
        except Refused as refusal:
            return await again(refusal.detail, refusal.status)
        return back_to(request, f"{self.path}/{ident}", done=done)
