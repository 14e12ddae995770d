"""The console's words, in one catalogue per language (translations/<lang>/*.json: one file per
part of the console, merged; a key may live in one file only), and how times are shown.
简体中文 is the default; English is a switch kept in a cookie."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Final

from models.domain.business_day import BUSINESS_TZ

LANGUAGES: Final = ("zh_CN", "en")
DEFAULT_LANGUAGE: Final = "zh_CN"
LANG_COOKIE: Final = "houtai_lang"
_CATALOGUES = Path(__file__).parent / "translations"


@cache
def catalogue(lang: str) -> dict[str, str]:
    merged: dict[str, str] = {}
    for part in sorted((_CATALOGUES / lang).glob("*.json")):
        words: dict[str, str] = json.loads(part.read_text("utf-8"))
        twice = merged.keys() & words.keys()
        if twice:
            raise ValueError(f"{part.name} repeats keys of another part: {sorted(twice)}")
        merged.update(words)
    return merged


def language(cookie: str | None) -> str:
    return cookie if cookie in LANGUAGES else DEFAULT_LANGUAGE


@dataclass(frozen=True)
class Translator:
    lang: str

    def __call__(self, key: str, **params: object) -> str:
        """The text of key in this language (the key itself when missing: tests keep the
        catalogues complete), with `{name}` placeholders filled from params."""
        text = catalogue(self.lang).get(key, key)
        return text.format(**params) if params else text

    def has(self, key: str) -> bool:
        return key in catalogue(self.lang)

    def label(self, prefix: str, value: object) -> str:
        """A stored word (a status, a reason) in this language: `prefix.value` when the
        catalogue has it; a stored "word: a person's words" (a group closed by a staff stop:
        "offer stopped: 调价") as `prefix.word.with_reason` around those words, kept as they
        are; else the value as stored (a person's own words)."""
        key = f"{prefix}.{value}"
        if self.has(key):
            return self(key)
        word, sep, reason = str(value).partition(": ")
        if sep and self.has(f"{prefix}.{word}.with_reason"):
            return self(f"{prefix}.{word}.with_reason", reason=reason)
        return str(value)


def format_time(value: datetime | str | None) -> str:
    """An aware time (or its ISO text, as the API sends it) shown in Asia/Shanghai."""
    if value is None or value == "":
        return ""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.astimezone(BUSINESS_TZ).strftime("%Y-%m-%d %H:%M:%S")
