"""Signed checkpoints (c2sp.org/tlog-checkpoint in c2sp.org/signed-note): published vectors, round trips, tampering.

Witnesses and auditors verify our tree heads with other implementations, so the bytes are pinned to published vectors.
"""
from __future__ import annotations

import base64
import hashlib
import json
import re
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from gateway.audit.checkpoint import (
    EMPTY_ROOT,
    MAX_TREE_SIZE,
    Checkpoint,
    CheckpointError,
    CheckpointGuard,
    InconsistentCheckpointError,
    NoteError,
    Verifier,
    add_signature,
    key_id,
    open_note,
    parse_body,
    parse_note,
    parse_verifier_key,
    sign_checkpoint,
    sign_note,
    verifier_key,
    verify_checkpoint,
)

VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).resolve().parent.parent / "vectors" / "signed_note.json").read_text(encoding="utf-8")
)
VKEYS = {v["name"]: v["vkey"] for v in VECTORS["verifier_keys"]["valid"]}
PETER, SUMDB = VKEYS["PeterNeumann"], VKEYS["sum.golang.org"]
EM = "\u2014"
ORIGIN = "gateway.example/access-log"
LOG_KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
LOG_VKEY = verifier_key(ORIGIN, LOG_KEY.public_key())
WITNESS = "witness.example/w1"
WITNESS_KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32, 64)))
WITNESS_VKEY = verifier_key(WITNESS, WITNESS_KEY.public_key())
ROOT = hashlib.sha256(b"root").digest()
SLOW = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])


def note_bytes(entry: dict[str, Any]) -> bytes:
    return base64.b64decode(entry["note_b64"]) if "note_b64" in entry else entry["note"].encode("utf-8")


def seed_from_skey(skey: str) -> bytes:
    """Decode a Go 'PRIVATE+KEY+<name>+<id>+base64(0x01 || seed)' test key (the base64 may contain '+')."""
    private, key, _name, _kid, material = skey.split("+", 4)
    assert (private, key) == ("PRIVATE", "KEY")
    raw = base64.b64decode(material)
    assert raw[0] == 1 and len(raw) == 33
    return raw[1:]


def log_note(cp: Checkpoint | None = None) -> bytes:
    return sign_checkpoint(cp or Checkpoint(ORIGIN, 7, ROOT), ORIGIN, LOG_KEY)


# --- published vectors ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("entry", VECTORS["verifier_keys"]["valid"], ids=lambda e: e["name"])
def test_published_verifier_keys_parse_and_re_encode(entry: dict[str, Any]) -> None:
    name, kid, public = parse_verifier_key(entry["vkey"])
    assert (name, f"{kid:08x}") == (entry["name"], entry["key_id"])
    assert key_id(name, public) == kid
    assert verifier_key(name, public) == entry["vkey"]


@pytest.mark.parametrize("entry", VECTORS["verifier_keys"]["invalid"], ids=lambda e: e["why"])
def test_published_bad_verifier_keys_are_rejected(entry: dict[str, Any]) -> None:
    with pytest.raises(NoteError):
        parse_verifier_key(entry["vkey"])


def test_mangled_verifier_keys_are_rejected() -> None:
    vkey = VECTORS["verifier_keys"]["manglings"]["vkey"]
    raw = vkey.encode("ascii")
    substrings = {raw[i:j] for i in range(len(raw) + 1) for j in range(i + 1, len(raw) + 1)} - {raw}
    incremented = {raw[:i] + bytes([raw[i] + 1]) + raw[i + 1 :] for i in range(len(raw))}
    for mangled in substrings | incremented:
        with pytest.raises(NoteError):
            parse_verifier_key(mangled.decode("ascii"))


def test_published_signer_key_belongs_to_its_verifier_key() -> None:
    entry = VECTORS["signer_keys"][0]
    key = Ed25519PrivateKey.from_private_bytes(seed_from_skey(entry["skey"]))
    assert verifier_key("PeterNeumann", key.public_key()) == entry["verifier"]


@pytest.mark.parametrize("entry", VECTORS["sign"], ids=lambda e: e["id"])
def test_signing_reproduces_the_published_note(entry: dict[str, Any]) -> None:
    key = Ed25519PrivateKey.from_private_bytes(seed_from_skey(VECTORS["signer_keys"][0]["skey"]))
    assert sign_note(entry["text"].encode(), entry["skey_name"], key) == entry["note"].encode("utf-8")
    # Re-signing with the same key replaces its signature rather than adding a second line.
    assert add_signature(entry["note"].encode("utf-8"), entry["skey_name"], key) == entry["note"].encode("utf-8")


@pytest.mark.parametrize("entry", VECTORS["open"], ids=lambda e: e["id"])
def test_published_open_vectors(entry: dict[str, Any]) -> None:
    expect = entry["expect"]
    if expect["ok"]:
        text, signers = open_note(note_bytes(entry), entry["verifiers"])
        assert text == expect["text"].encode("utf-8")
        assert signers == expect["signers"]
    else:
        with pytest.raises(NoteError, match=re.escape(expect["error"])):
            open_note(note_bytes(entry), entry["verifiers"])


@pytest.mark.parametrize("entry", VECTORS["malformed"], ids=lambda e: e["id"])
def test_published_malformed_notes(entry: dict[str, Any]) -> None:
    with pytest.raises(NoteError, match="malformed"):
        open_note(note_bytes(entry), [PETER])


def test_spec_signed_note_example_splits_at_the_last_empty_line() -> None:
    (entry,) = VECTORS["spec_examples"]
    text, signatures = parse_note(note_bytes(entry))
    assert text == entry["text"].encode("utf-8")
    assert [s.name for s in signatures] == [s["name"] for s in entry["signatures"]]
    with pytest.raises(NoteError, match="no verifiable"):  # no key was published for it
        open_note(note_bytes(entry), [PETER, SUMDB])


@pytest.mark.parametrize("entry", [c for c in VECTORS["checkpoints"] if "body" in c], ids=lambda e: e["id"])
def test_published_checkpoint_bodies(entry: dict[str, Any]) -> None:
    cp = parse_body(entry["body"].encode("utf-8"))
    assert (cp.origin, cp.size, cp.root, cp.extensions) == (
        entry["origin"], entry["size"], base64.b64decode(entry["root_b64"]), ()
    )
    assert cp.body() == entry["body"].encode("utf-8")


def test_go_tree_root_is_the_rfc6962_leaf_hash_of_hello_world() -> None:
    entry = next(c for c in VECTORS["checkpoints"] if c["id"] == "go-format-tree")
    assert parse_body(entry["body"]).root == hashlib.sha256(b"\x00hello world").digest()


def test_real_sumdb_checkpoint_verifies() -> None:
    entry = next(c for c in VECTORS["checkpoints"] if c["id"] == "sumdb-signed-checkpoint")
    cp = verify_checkpoint(entry["note"].encode("utf-8"), entry["verifier"], origin=entry["origin"])
    assert (cp.origin, cp.size) == (entry["origin"], entry["size"])
    assert cp.root == base64.b64decode(entry["root_b64"])
    with pytest.raises(CheckpointError, match="origin"):
        verify_checkpoint(entry["note"].encode("utf-8"), entry["verifier"], origin="example.com/other")
    with pytest.raises(NoteError, match="no verifiable"):
        verify_checkpoint(entry["note"].encode("utf-8"), PETER)


def test_spec_checkpoint_example_is_a_relabelled_sumdb_checkpoint() -> None:
    entry = next(c for c in VECTORS["checkpoints"] if c["id"] == "c2sp-tlog-checkpoint-example")
    note = entry["note"].encode("utf-8")
    with pytest.raises(NoteError, match="no verifiable"):  # name differs from sum.golang.org: an unknown key
        verify_checkpoint(note, SUMDB)
    signature = note.split(b"\n\n")[-1].split(b" ")[-1]
    relabelled = entry["observed_relabelled_body"].encode() + b"\n" + f"{EM} sum.golang.org ".encode() + signature
    assert verify_checkpoint(relabelled, SUMDB).size == entry["size"]


@pytest.mark.parametrize("entry", VECTORS["bad_checkpoint_bodies"], ids=lambda e: e["why"])
def test_published_bad_checkpoint_bodies(entry: dict[str, Any]) -> None:
    with pytest.raises(CheckpointError):
        parse_body(entry["body"])


def test_published_extension_lines() -> None:
    entry = VECTORS["extension_lines"]
    cp = parse_body(entry["body"])
    assert cp.extensions == tuple(entry["extensions"])
    assert cp.body() == entry["body"].encode()


# --- round trips ---------------------------------------------------------------------------------------------

origins = st.text(st.characters(min_codepoint=0x21, exclude_characters="+", exclude_categories=("Cs",)), min_size=1)
extension_lines = st.text(st.characters(min_codepoint=0x20, exclude_categories=("Cs",)), min_size=1, max_size=40)
checkpoints = st.builds(
    Checkpoint,
    origin=origins.filter(lambda o: not any(ch.isspace() for ch in o)),
    size=st.integers(0, MAX_TREE_SIZE),
    root=st.binary(min_size=32, max_size=32),
    extensions=st.lists(extension_lines, max_size=3).map(tuple),
)


@SLOW
@given(checkpoints)
def test_sign_open_parse_round_trip(cp: Checkpoint) -> None:
    key = Ed25519PrivateKey.from_private_bytes(hashlib.sha256(cp.origin.encode()).digest())
    note = sign_checkpoint(cp, cp.origin, key)
    assert verify_checkpoint(note, verifier_key(cp.origin, key.public_key()), origin=cp.origin) == cp
    assert parse_body(cp.body()) == cp


def test_note_layout_is_body_blank_line_signature_line() -> None:
    note = log_note()
    body, blank, sig = note.decode().partition("\n\n")
    assert body + "\n" == Checkpoint(ORIGIN, 7, ROOT).body().decode()
    assert sig.startswith(f"{EM} {ORIGIN} ") and sig.endswith("\n") and sig.count("\n") == 1
    blob = base64.b64decode(sig.split(" ")[2])
    assert int.from_bytes(blob[:4], "big") == key_id(ORIGIN, LOG_KEY.public_key()) and len(blob) == 68


def test_two_signers() -> None:
    note = add_signature(log_note(), WITNESS, WITNESS_KEY)
    assert open_note(note, [LOG_VKEY, WITNESS_VKEY])[1] == [ORIGIN, WITNESS]
    assert open_note(note, [WITNESS_VKEY])[1] == [WITNESS]
    assert open_note(note, {"log": LOG_VKEY})[1] == [ORIGIN]
    assert verify_checkpoint(note, LOG_VKEY) == Checkpoint(ORIGIN, 7, ROOT)
    assert add_signature(note, WITNESS, WITNESS_KEY) == note  # replaced, not duplicated


def test_signatures_from_unknown_keys_are_ignored_but_not_enough() -> None:
    stranger = Ed25519PrivateKey.from_private_bytes(b"\x07" * 32)
    same_name_other_key = add_signature(log_note(), ORIGIN + "-x", stranger)
    assert open_note(same_name_other_key, [LOG_VKEY])[1] == [ORIGIN]
    impostor = sign_note(Checkpoint(ORIGIN, 7, ROOT).body(), ORIGIN, stranger)  # our name, another key: other ID
    with pytest.raises(NoteError, match="no verifiable"):
        open_note(impostor, [LOG_VKEY])
    with pytest.raises(NoteError, match="no verifiable"):
        open_note(log_note(), [])


def test_a_bad_signature_from_a_known_key_rejects_the_note_even_if_another_verifies() -> None:
    other_body = Checkpoint(ORIGIN, 8, ROOT).body()
    witness_line = sign_note(other_body, WITNESS, WITNESS_KEY).split(b"\n\n")[1]  # well-formed, wrong bytes signed
    note = log_note() + witness_line
    with pytest.raises(NoteError, match=f"invalid signature for key {WITNESS}"):
        open_note(note, [LOG_VKEY, WITNESS_VKEY])
    assert open_note(note, [LOG_VKEY])[1] == [ORIGIN]  # an unknown witness is simply ignored


def test_verifier_key_ids_are_checked_and_conflicting_keys_are_an_error() -> None:
    name, kid, public = parse_verifier_key(LOG_VKEY)
    other = base64.b64encode(b"\x01" + bytes(31) + b"\x01").decode()
    with pytest.raises(NoteError, match="key ID"):  # our name and ID over other key material
        open_note(log_note(), [LOG_VKEY, f"{name}+{kid:08x}+{other}"])
    # Two different keys claiming one (name, ID) can only come from a collision or a bad configuration.
    collision = Verifier(name, kid, WITNESS_KEY.public_key())
    with pytest.raises(NoteError, match="ambiguous"):
        open_note(log_note(), [LOG_VKEY, collision])
    assert open_note(log_note(), [LOG_VKEY, Verifier(name, kid, public), LOG_VKEY])[1] == [ORIGIN]


# --- tampering ----------------------------------------------------------------------------------------------

NOTE = log_note(Checkpoint(ORIGIN, 123456, ROOT, ("ext line",)))
BODY_LEN = len(Checkpoint(ORIGIN, 123456, ROOT, ("ext line",)).body())


def flip(note: bytes, index: int, value: int) -> bytes:
    assume(note[index] != value)
    return note[:index] + bytes([value]) + note[index + 1 :]


@SLOW
@given(st.integers(0, BODY_LEN - 1), st.integers(0, 255))
def test_any_single_byte_change_in_the_body_is_rejected(index: int, value: int) -> None:
    with pytest.raises(NoteError):
        open_note(flip(NOTE, index, value), [LOG_VKEY])


@SLOW
@given(st.integers(BODY_LEN, len(NOTE) - 1), st.integers(0, 255))
def test_any_single_byte_change_in_the_signature_is_rejected(index: int, value: int) -> None:
    with pytest.raises(NoteError):
        open_note(flip(NOTE, index, value), [LOG_VKEY])


def test_every_base64_character_change_in_the_signature_is_rejected() -> None:
    """Exhaustive over the base64 alphabet, including changes that only touch the pad bits of the last character."""
    start = NOTE.rindex(b" ") + 1
    alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="
    for index in range(start, len(NOTE) - 1):
        for value in alphabet:
            if NOTE[index] != value:
                with pytest.raises(NoteError):
                    open_note(NOTE[:index] + bytes([value]) + NOTE[index + 1 :], [LOG_VKEY])


def _sig_line() -> bytes:
    return NOTE[BODY_LEN + 1 :]


MALFORMED = {
    "missing blank line": NOTE[:BODY_LEN] + _sig_line(),
    "no signatures": NOTE[: BODY_LEN + 1],
    "no final newline": NOTE[:-1],
    "en dash": NOTE.replace(EM.encode(), "\u2013".encode()),
    "hyphen": NOTE.replace(EM.encode(), b"-"),
    "double hyphen": NOTE.replace(EM.encode(), b"--"),
    "dash without space": NOTE.replace(f"{EM} ".encode(), EM.encode()),
    "two spaces after name": NOTE.replace(f"{ORIGIN} ".encode(), f"{ORIGIN}  ".encode()),
    "base64 not in alphabet": NOTE[:-3] + b"*=\n",
    "base64 without padding": NOTE[:-2] + b"\n",
    "url-safe base64": NOTE[:-3] + b"_=\n",
    "too short signature": NOTE[: NOTE.rindex(b" ") + 1] + b"AAAAAA==\n",
    "duplicate signature line": NOTE + _sig_line(),
    "CRLF everywhere": NOTE.replace(b"\n", b"\r\n"),
    "CRLF on signature line": NOTE[:-1] + b"\r\n",
    "trailing text line": NOTE + b"trailing\n",
    "name with plus": NOTE.replace(f"{EM} {ORIGIN}".encode(), f"{EM} a+b".encode()),
    "tab before signature": NOTE[: BODY_LEN + 1] + b"\t" + _sig_line(),
    "invalid UTF-8": b"\xc3" + NOTE,
}


@pytest.mark.parametrize("note", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_notes_are_rejected(note: bytes) -> None:
    with pytest.raises(NoteError, match="malformed"):
        open_note(note, [LOG_VKEY])


def test_duplicated_body_line_or_extra_blank_line_breaks_the_signature() -> None:
    lines = NOTE.split(b"\n")
    duplicated = b"\n".join([lines[0], *lines])
    extra_blank = NOTE[:BODY_LEN] + b"\n" + NOTE[BODY_LEN:]
    for note in (duplicated, extra_blank):
        with pytest.raises(NoteError, match="invalid signature"):
            open_note(note, [LOG_VKEY])


def test_too_many_signatures_are_rejected() -> None:
    lines = [sign_note(b"x\n", f"k{i}", WITNESS_KEY).split(b"\n\n")[1] for i in range(101)]
    assert open_note(b"x\n\n" + b"".join(lines[:100]), [verifier_key("k0", WITNESS_KEY.public_key())])[1] == ["k0"]
    with pytest.raises(NoteError, match="malformed"):
        open_note(b"x\n\n" + b"".join(lines), [verifier_key("k0", WITNESS_KEY.public_key())])


# --- checkpoint body strictness ----------------------------------------------------------------------------

R = base64.b64encode(ROOT).decode()
BAD_BODIES = {
    "empty": "",
    "origin only": "o\n",
    "no root line": "o\n1\n",
    "no final newline": f"o\n1\n{R}",
    "empty origin": f"\n1\n{R}\n",
    "origin with CR": f"o\r\n1\n{R}\n",
    "CRLF": f"o\r\n1\r\n{R}\r\n",
    "leading zero": f"o\n01\n{R}\n",
    "double zero": f"o\n00\n{R}\n",
    "negative": f"o\n-1\n{R}\n",
    "plus sign": f"o\n+1\n{R}\n",
    "underscore": f"o\n1_000\n{R}\n",
    "space in size": f"o\n 1\n{R}\n",
    "non-ASCII digit": f"o\n\u0661\n{R}\n",
    "hex size": f"o\n0x1\n{R}\n",
    "size over 2^64-1": f"o\n{2**64}\n{R}\n",
    "root not base64": "o\n1\n!!!!\n",
    "root unpadded": f"o\n1\n{R.rstrip('=')}\n",
    "root non-canonical pad bits": f"o\n1\n{R[:-2]}{chr(ord(R[-2]) + 1)}=\n",
    "root 31 bytes": f"o\n1\n{base64.b64encode(ROOT[:31]).decode()}\n",
    "root 33 bytes": f"o\n1\n{base64.b64encode(ROOT + b'x').decode()}\n",
    "root url-safe": f"o\n1\n{base64.urlsafe_b64encode(bytes([0xFB] * 32)).decode()}\n",
    "empty extension line": f"o\n1\n{R}\n\n",
    "extension with control char": f"o\n1\n{R}\na\x7fb\x01\n",
}


@pytest.mark.parametrize("body", BAD_BODIES.values(), ids=BAD_BODIES.keys())
def test_bad_checkpoint_bodies_are_rejected(body: str) -> None:
    with pytest.raises(CheckpointError):
        parse_body(body)


def test_invalid_utf8_body_is_rejected() -> None:
    with pytest.raises(CheckpointError):
        parse_body(b"\xff\n1\n" + R.encode() + b"\n")


@pytest.mark.parametrize(
    ("origin", "size", "root", "extensions"),
    [("", 1, ROOT, ()), ("a\nb", 1, ROOT, ()), ("o", -1, ROOT, ()), ("o", MAX_TREE_SIZE + 1, ROOT, ()),
     ("o", True, ROOT, ()), ("o", 1, ROOT[:31], ()), ("o", 1, ROOT, ("",)), ("o", 1, ROOT, ["x"])],
)
def test_checkpoint_constructor_validates(origin: str, size: int, root: bytes, extensions: tuple[str, ...]) -> None:
    with pytest.raises(CheckpointError):
        Checkpoint(origin, size, root, extensions)


def test_zero_and_max_sizes_round_trip() -> None:
    for size in (0, MAX_TREE_SIZE):
        assert parse_body(Checkpoint("o", size, EMPTY_ROOT).body()).size == size


def test_key_names_follow_the_note_rules() -> None:
    for bad in ("", "a b", "a+b", "a\u00a0b", "a\tb", "a\u3000b"):
        with pytest.raises(NoteError):
            sign_note(b"x\n", bad, LOG_KEY)
        with pytest.raises(NoteError):
            verifier_key(bad, LOG_KEY.public_key())
    with pytest.raises(NoteError, match="newline"):
        sign_note(b"x", "k", LOG_KEY)


def test_log_key_name_must_match_origin() -> None:
    with pytest.raises(CheckpointError, match="origin"):
        sign_checkpoint(Checkpoint(ORIGIN, 1, ROOT), WITNESS, WITNESS_KEY)


# --- CheckpointGuard ---------------------------------------------------------------------------------------


class StubConsistency:
    """Records calls; answers from a fixed verdict (or raises)."""

    def __init__(self, verdict: object = True) -> None:
        self.verdict = verdict
        self.calls: list[tuple[int, int, bytes, bytes]] = []

    def __call__(self, old_size: int, new_size: int, old_root: bytes, new_root: bytes) -> bool:
        self.calls.append((old_size, new_size, old_root, new_root))
        if isinstance(self.verdict, Exception):
            raise self.verdict
        return self.verdict  # type: ignore[return-value]


def root(n: int) -> bytes:
    return hashlib.sha256(n.to_bytes(8, "big")).digest()


def guard_at(size: int, verdict: object = True) -> tuple[CheckpointGuard, StubConsistency]:
    stub = StubConsistency(verdict)
    guard = CheckpointGuard(stub)
    guard.sign(Checkpoint(ORIGIN, size, root(size)), ORIGIN, LOG_KEY)
    return guard, stub


def test_guard_signs_the_first_and_a_consistent_larger_checkpoint() -> None:
    guard, stub = guard_at(5)
    note = guard.sign(Checkpoint(ORIGIN, 9, root(9)), ORIGIN, LOG_KEY)
    assert verify_checkpoint(note, LOG_VKEY).size == 9
    assert stub.calls == [(5, 9, root(5), root(9))]
    assert guard.last == Checkpoint(ORIGIN, 9, root(9))


def test_guard_refuses_a_smaller_checkpoint() -> None:
    guard, stub = guard_at(5)
    with pytest.raises(InconsistentCheckpointError, match="smaller"):
        guard.sign(Checkpoint(ORIGIN, 4, root(4)), ORIGIN, LOG_KEY)
    assert guard.last == Checkpoint(ORIGIN, 5, root(5)) and stub.calls == []


def test_guard_refuses_same_size_with_a_different_root_but_re_signs_the_same_head() -> None:
    guard, _ = guard_at(5)
    with pytest.raises(InconsistentCheckpointError, match="different root"):
        guard.sign(Checkpoint(ORIGIN, 5, root(6)), ORIGIN, LOG_KEY)
    assert guard.sign(Checkpoint(ORIGIN, 5, root(5)), ORIGIN, LOG_KEY)  # time-based re-signing, no new entries


@pytest.mark.parametrize("verdict", [False, None, 1, "yes", ValueError("proof too short")])
def test_guard_refuses_an_inconsistent_larger_checkpoint(verdict: object) -> None:
    guard, stub = guard_at(5)
    stub.verdict = verdict
    with pytest.raises(InconsistentCheckpointError, match="consisten"):
        guard.sign(Checkpoint(ORIGIN, 9, root(9)), ORIGIN, LOG_KEY)
    assert guard.last == Checkpoint(ORIGIN, 5, root(5))


def test_guard_grows_from_the_empty_tree_without_a_proof() -> None:
    stub = StubConsistency(False)
    guard = CheckpointGuard(stub, last=Checkpoint(ORIGIN, 0, EMPTY_ROOT))
    guard.sign(Checkpoint(ORIGIN, 3, root(3)), ORIGIN, LOG_KEY)
    assert stub.calls == []
    bogus = CheckpointGuard(StubConsistency(True), last=Checkpoint(ORIGIN, 0, root(0)))
    with pytest.raises(InconsistentCheckpointError):
        bogus.sign(Checkpoint(ORIGIN, 3, root(3)), ORIGIN, LOG_KEY)


def test_guard_refuses_another_origin() -> None:
    guard, _ = guard_at(5)
    with pytest.raises(InconsistentCheckpointError, match="origin"):
        guard.sign(Checkpoint(WITNESS, 9, root(9)), WITNESS, WITNESS_KEY)


def test_guard_persists_before_releasing_and_keeps_state_if_persisting_fails() -> None:
    saved: list[tuple[int, bytes]] = []

    def persist(size: int, head: bytes) -> None:
        if size == 13:
            raise OSError("disk full")
        saved.append((size, head))

    guard = CheckpointGuard(StubConsistency(True), persist=persist)
    guard.sign(Checkpoint(ORIGIN, 5, root(5)), ORIGIN, LOG_KEY)
    with pytest.raises(OSError):
        guard.sign(Checkpoint(ORIGIN, 13, root(13)), ORIGIN, LOG_KEY)
    assert saved == [(5, root(5))] and guard.last == Checkpoint(ORIGIN, 5, root(5))


@pytest.mark.parametrize("code", [c for c in range(0x20) if c != 0x0A])
def test_a_note_text_with_a_control_character_other_than_newline_is_not_signed(code: int) -> None:
    key = Ed25519PrivateKey.generate()
    for body in (f"origin\n{chr(code)}\n".encode(), f"origin{chr(code)}x\n".encode()):
        with pytest.raises(NoteError, match="control character"):
            sign_note(body, "origin", key)
    assert sign_note(b"origin\n1\n", "origin", key).startswith(b"origin\n1\n\n")


def test_two_keys_under_one_name_sign_with_their_own_key_ids() -> None:
    """The signing key's ID is cached per key: a second key under the same name must not get the first one's ID."""
    first, second = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    for key in (first, second, first):
        note = sign_note(b"origin\n1\n", "origin", key)
        _, signers = open_note(note, [verifier_key("origin", key.public_key())])
        assert signers == ["origin"]
