"""An API refusal in the page's language (DESIGN §3a): /v1 says why in English, and with each
invalid input its kind (`code`, pydantic's: `missing`, `greater_than`, …) and the limits it
states (`ctx`); a business refusal may name its `reason` (`sold_out`, `level_in_use`). What the
catalogue knows is said in the page's language from those; what it does not is the API's own
words, as before."""

from __future__ import annotations

from typing import Any

from console.i18n import Translator
from console.money import format_fen

Json = dict[str, Any]


def error_text(error: Json, t: Translator) -> str | None:
    """One error (its field not named) in t's language, or None when the catalogue has no
    words for its kind."""
    said = _said(error, t)
    return said[0] if said else None


def _said(error: Json, t: Translator) -> tuple[str, bool] | None:
    """The error's words and whether they stand alone: `refusal.code.*` words follow the
    field's name ("数量：须大于 0"); `refusal.whole.*` and `refusal.reason.*` say it all
    ("验证码不对…", where the field's name would mislead)."""
    code, reason = error.get("code"), error.get("reason")
    try:
        for kind, alone in (("code", False), ("whole", True)):
            if isinstance(code, str) and t.has(f"refusal.{kind}.{code}"):
                # the field always among the values, so words with a placeholder are filled
                # (or refused below) even when the API sent no limits
                values = {"field": error.get("field", ""), **amounts(error.get("ctx") or {})}
                return t(f"refusal.{kind}.{code}", **values), alone
        if isinstance(reason, str) and t.has(f"refusal.reason.{reason}"):
            return t(f"refusal.reason.{reason}", **error), True
    except (KeyError, IndexError, ValueError):  # words that name a value the API did not send
        return None
    return None


def amounts(ctx: Json) -> Json:
    """The values a message states, each amount in fen (`…_fen`) also as money (`…_money`:
    `¥12.99`), as staff enter and read amounts in yuan."""
    money = {
        f"{name.removesuffix('_fen')}_money": format_fen(value)
        for name, value in ctx.items()
        if name.endswith("_fen") and isinstance(value, int) and not isinstance(value, bool)
    }
    return {**ctx, **money}


def field_label(field: str, t: Translator) -> str:
    """`lines.0.quantity` → the catalogue's name of `quantity` (`roles.0`, an item of a list:
    the name of `roles`), else the field as the API named it."""
    name = next((part for part in reversed(field.split(".")) if not part.isdigit()), field)
    key = f"refusal.field.{name}"
    return t(key) if t.has(key) else field


def problem_text(problem: Json, t: Translator) -> str | None:
    """The whole refusal in t's language: each error said in its words (an invalid input with
    its field's name), those the catalogue lacks in the API's; None when it knows none of them
    (the caller shows the API's detail)."""
    errors = [e for e in problem.get("errors") or [] if isinstance(e, dict)]
    said = [_said(e, t) for e in errors]
    if not any(said):
        return None
    parts = []
    for error, found in zip(errors, said, strict=True):
        words, alone = found or (str(error.get("message") or ""), False)
        field = error.get("field")
        if alone or not field:
            parts.append(words)
        else:
            parts.append(f"{field_label(field, t)}{t('refusal.field_sep')}{words}")
    return t("refusal.joiner").join(parts)
