"""Field projection and masking: an answer carries only the field groups its caller was granted.

Handlers build the whole answer; this clears every field outside the granted groups (dotted paths reach
into repeated entries) and masks identity numbers unless `identity-full` was granted.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping

from google.protobuf.message import Message

from gateway.domain.idnumber import IdNumber, InvalidIdNumber


def mask_text(value: str) -> str:
    """330203********1234; a national student number keeps its G: G330203********1234."""
    prefix, number = ("G", value[1:]) if value[:1] in ("G", "g") else ("", value)
    try:
        return prefix + IdNumber.parse(number).masked()
    except InvalidIdNumber:
        return ""  # never pass on something unrecognised in an identity field


def _paths_tree(paths: Iterable[str]) -> dict[str, set[str]]:
    tree: dict[str, set[str]] = {}
    for path in paths:
        head, _, rest = path.partition(".")
        sub = tree.setdefault(head, set())
        if rest:
            sub.add(rest)
    return tree


def keep_only(msg: Message, paths: Iterable[str]) -> None:
    """Clear every field of `msg` not named by `paths` (a bare name keeps the field whole)."""
    tree = _paths_tree(paths)
    for field, value in msg.ListFields():
        if field.name not in tree:
            msg.ClearField(field.name)
        elif tree[field.name] and field.message_type is not None:
            for item in value if field.is_repeated else (value,):
                keep_only(item, tree[field.name])


def project(msg: Message, groups: Iterable[str], fields: Mapping[str, tuple[str, ...]],
            known: Mapping[str, IdNumber] | None = None) -> Message:
    """Keep the granted groups' fields; mask identity fields unless `identity-full` is granted. `known` maps
    canonical numbers the caller already validated to their IdNumber (masked without being parsed again);
    any other value is parsed here, and blanked if it is not a valid number."""
    granted = set(groups)
    keep_only(msg, {p for g in granted if g in fields for p in fields[g]})
    if "identity-full" not in granted:
        for name in fields.get("identity-masked", ()):
            value = getattr(msg, name, "")
            if value:
                who = known.get(value) if known else None
                setattr(msg, name, who.masked() if who is not None else mask_text(value))
    return msg
