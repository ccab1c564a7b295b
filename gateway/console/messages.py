"""The console's words, per language, from data files (messages/zh.toml, messages/en.toml).

Chinese is the default; English is chosen by `?lang=en` or an Accept-Language that prefers English. Both files
must have exactly the same keys with non-empty text: a file missing a key is refused at load (and by a test),
and asking for a key no file has raises, so a page cannot silently show a key name instead of words.
"""
from __future__ import annotations

import functools
import importlib.resources
import tomllib
from collections.abc import Mapping

from gateway.errors import GatewayError

LANGUAGES = ("zh", "en")
DEFAULT = "zh"


class MessagesError(GatewayError, KeyError):
    """A message file is missing, malformed, or lacks a key another language has; or a page asked for no key."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


def parse(texts: Mapping[str, str]) -> dict[str, dict[str, str]]:
    """Validate the languages' TOML texts: every value text, every language the same keys."""
    found: dict[str, dict[str, str]] = {}
    for lang, text in texts.items():
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise MessagesError(f"messages/{lang}.toml: {exc}") from exc
        bad = sorted(k for k, v in data.items() if not isinstance(v, str) or not v.strip())
        if bad:
            raise MessagesError(f"messages/{lang}.toml: keys without text: {', '.join(bad)}")
        found[lang] = {k: str(v) for k, v in data.items()}
    every = set().union(*(set(m) for m in found.values()))
    for lang, table in found.items():
        missing = sorted(every - set(table))
        if missing:
            raise MessagesError(f"messages/{lang}.toml lacks {', '.join(missing)}")
    return found


@functools.cache
def catalogue() -> dict[str, dict[str, str]]:
    """The shipped message files, validated (loaded once per process)."""
    folder = importlib.resources.files("gateway.console") / "messages"
    return parse({lang: (folder / f"{lang}.toml").read_text("utf-8") for lang in LANGUAGES})


class Messages:
    """One language's words: `t(key)`."""

    def __init__(self, lang: str, table: Mapping[str, str]) -> None:
        self.lang, self._table = lang, table

    def t(self, key: str) -> str:
        try:
            return self._table[key]
        except KeyError:
            raise MessagesError(f"no message {key!r} in messages/{self.lang}.toml") from None


def for_language(lang: str) -> Messages:
    lang = lang if lang in LANGUAGES else DEFAULT
    return Messages(lang, catalogue()[lang])


def choose(query_lang: str, accept_language: str) -> str:
    """`lang` from the query if it names a language we have, else the first of Accept-Language we have, else zh."""
    if query_lang in LANGUAGES:
        return query_lang
    for part in accept_language.split(","):
        tag = part.split(";")[0].strip().lower()
        primary = tag.split("-")[0]
        if primary in LANGUAGES:
            return primary
    return DEFAULT
