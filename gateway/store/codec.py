"""Facts to bytes and back: compact JSON driven by each record's type hints, so the store needs no per-kind code.

The bytes are encrypted as a whole before they reach the database (store/crypto.py).
"""
from __future__ import annotations

import dataclasses
import datetime as _dt
import functools
import json
import operator
import types
import typing
from collections.abc import Callable
from enum import Enum
from json.encoder import encode_basestring
from typing import Any

from gateway.domain.districts import District
from gateway.domain.idnumber import IdNumber
from gateway.domain.records import FACT_KINDS, Fact


def _plain(value: Any) -> Any:
    if type(value) is str:  # most fields: the common case first
        return value
    if isinstance(value, IdNumber):
        return value.value
    if isinstance(value, District):
        return value.code
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, _dt.date):
        return value.isoformat()
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


def _typed(hint: Any, value: Any) -> Any:
    if value is None:
        return None
    origin = typing.get_origin(hint)
    if origin in (types.UnionType, typing.Union):
        inner = [a for a in typing.get_args(hint) if a is not type(None)]
        return _typed(inner[0], value)
    if origin is tuple:
        return tuple(_typed(typing.get_args(hint)[0], v) for v in value)
    if hint is IdNumber:
        return IdNumber(value)
    if hint is District:
        return District(value)
    if hint is _dt.date:
        return _dt.date.fromisoformat(value)
    if isinstance(hint, type) and issubclass(hint, Enum):
        return hint(value)
    return value


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


_NAMES: dict[type, tuple[str, ...]] = {}  # field names of each fact kind (a handful), looked up once


def _names(cls: type) -> tuple[str, ...]:
    names = _NAMES.get(cls)
    if names is None:
        names = _NAMES[cls] = tuple(f.name for f in dataclasses.fields(cls))
    return names


def _reference_text(fact: Fact) -> str:
    """The encoding by definition: json.dumps of [kind, {field: plain value}], compact, non-ASCII kept."""
    body = {name: _plain(getattr(fact, name)) for name in _names(type(fact))}
    return json.dumps([type(fact).__name__, body], ensure_ascii=False, separators=(",", ":"))


_string = encode_basestring  # json.dumps's own string quoting (ensure_ascii=False), C-accelerated
_PARTS: dict[type, tuple[str, tuple[tuple[str, str], ...]]] = {}  # per kind: its opening, and (field, its "key":)


def _parts(cls: type) -> tuple[str, tuple[tuple[str, str], ...]]:
    parts = _PARTS.get(cls)
    if parts is None:
        names = _names(cls)
        parts = _PARTS[cls] = (f"[{_string(cls.__name__)},{{",
                               tuple((n, ("" if i == 0 else ",") + _string(n) + ":") for i, n in enumerate(names)))
    return parts


def _general_json(value: Any) -> str:
    return json.dumps(_plain(value), ensure_ascii=False, separators=(",", ":"))


def _general_text(value: Any) -> str:
    return str(_plain(value))


def _id_json(value: IdNumber) -> str:
    return _string(value.value)


def _enum_text(value: Enum) -> str:
    return str(value._value_)  # .value, without the property it is read through (a fifth of the writer's time)


def _str_enum_json(value: Enum) -> str:
    plain = value._value_
    return _string(plain) if type(plain) is str else _general_json(value)


# How a value of each type is written, chosen once per type (a handful: str, IdNumber, each Enum, date, None, ...):
# the same text as _plain then json.dumps (or str), without _plain's chain of isinstance checks on every field.
_JSON: dict[type, Callable[[Any], str]] = {str: _string, IdNumber: _id_json}
_TEXT: dict[type, Callable[[Any], str]] = {str: str, IdNumber: operator.attrgetter("value")}
_TYPES_MAX = 256


def _by_type(table: dict[type, Callable[[Any], str]], value: Any, general: Callable[[Any], str],
             enum: Callable[[Any], str]) -> str:
    write = table.get(type(value))
    if write is None:
        write = enum if isinstance(value, Enum) else general
        if len(table) < _TYPES_MAX:
            table[type(value)] = write
    return write(value)


def _value(value: Any) -> str:
    """One field's JSON, as json.dumps writes it in _reference_text."""
    return _by_type(_JSON, value, _general_json, _str_enum_json)


def encode_text(fact: Fact) -> str:
    """The same text as _reference_text, written directly: an import encodes every row, and the general encoder
    (a dict, then json.dumps walking it) was a sixth of its time. Stored bytes do not change."""
    opening, fields = _parts(type(fact))
    parts, known = [opening], _JSON.get  # a known type's writer looked up here: two calls less per field
    for name, key in fields:
        value = getattr(fact, name)
        write = known(type(value))
        parts.append(key + (write(value) if write is not None else _value(value)))
    parts.append("}]")
    return "".join(parts)


def encode(fact: Fact) -> bytes:
    return encode_text(fact).encode("utf-8")


def decode(data: bytes) -> Fact:
    kind, body = json.loads(data)
    cls = FACT_KINDS[kind]
    hints = _hints(cls)
    return cls(**{name: _typed(hints[name], value) for name, value in body.items()})


def key_text(fact: Fact, fields: tuple[str, ...]) -> str:
    """The fact's kind and natural-key fields as text, unit-separated (what its key digest is taken of)."""
    parts, known = [type(fact).__name__], _TEXT.get
    for f in fields:
        value = getattr(fact, f)
        write = known(type(value))
        parts.append(write(value) if write is not None else _by_type(_TEXT, value, _general_text, _enum_text))
    return "\x1f".join(parts)
