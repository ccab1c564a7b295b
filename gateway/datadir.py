"""The gateway's data directory (docs/cli.md, `permitgw init`): keys, CA, signing key, database, config, policies.

`init` creates what is missing and never overwrites a key; everything else opens what init made.
"""
from __future__ import annotations

import importlib.resources
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.errors import GatewayError
from gateway.filemodes import private_problem
from gateway.files import atomic_write, write_new_private
from gateway.identity import ca
from gateway.store.crypto import FieldCipher
from gateway.store.migrations import SchemaBehind, SchemaChange
from gateway.store.port import Store
from gateway.store.sqlite import SqliteStore

if TYPE_CHECKING:
    from gateway.store.postgres import PostgresStore

DEFAULT_DIR = Path("./permitgw-data")


class DataDirError(GatewayError):
    """The data directory is missing, incomplete or its configuration is invalid."""


def _defaults() -> dict[str, Any]:
    return tomllib.loads(importlib.resources.files("gateway").joinpath("defaults.toml").read_text("utf-8"))


def shipped_policies() -> importlib.resources.abc.Traversable:
    """The policies that travel in the wheel (policies/ in the repository, or there in a source checkout)."""
    try:
        return importlib.resources.files("gateway._policies")
    except ModuleNotFoundError:
        checkout = Path(__file__).resolve().parent.parent / "policies"
        if not (checkout / "policy.csv").is_file():
            raise
        return checkout


@dataclass(frozen=True)
class DataDir:
    root: Path

    @property
    def keys(self) -> Path:
        return self.root / "keys"

    @property
    def certs(self) -> Path:
        return self.root / "certs"

    @property
    def policies(self) -> Path:
        return self.root / "policies"

    @property
    def database(self) -> Path:
        return self.root / "gateway.db"

    @property
    def rejects(self) -> Path:
        return self.root / "rejects"

    @property
    def config_file(self) -> Path:
        return self.root / "config.toml"

    def require(self) -> DataDir:
        if not (self.keys / "ca.key").is_file() or not self.config_file.is_file():
            raise DataDirError(f"{self.root} is not a gateway data directory: run `permitgw init --data {self.root}`")
        problem = private_problem(self.root)
        if problem:
            raise DataDirError(problem)
        return self

    def config(self) -> dict[str, Any]:
        merged = _defaults()
        try:
            own = tomllib.loads(self.config_file.read_text("utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise DataDirError(f"{self.config_file}: {exc}") from exc
        for section, values in own.items():
            if section not in merged or not isinstance(values, dict):
                raise DataDirError(f"{self.config_file}: unknown section [{section}]")
            for key, value in values.items():
                if key not in merged[section]:
                    raise DataDirError(f"{self.config_file}: unknown key {key!r} in [{section}]")
                merged[section][key] = value
        return merged

    def cipher(self) -> FieldCipher:
        return FieldCipher.from_keys_dir(self.keys)

    def store_settings(self) -> dict[str, Any]:
        """The [store] section (the shipped defaults where no config.toml exists yet)."""
        return (self.config() if self.config_file.is_file() else _defaults())["store"]

    def open_store(self, create: bool = False, *, read_only: bool = False) -> Store:
        """The database that [store] backend names: SQLite in this directory (the default), or PostgreSQL.

        A missing or empty SQLite file is an error (the log would silently start again from nothing) unless
        `create` (init) asks for a new one. read_only (SQLite): never create or change a file. A database of an
        older schema version is refused, naming `permitgw migrate` (docs/architecture.md, "Schema versions").
        """
        return self._open(create, read_only=read_only, migrate=False)

    def migrate(self, create: bool = False) -> SchemaChange:
        """Apply the schema migrations the database lacks (creating it, on SQLite only if `create`); what was done."""
        store = self._open(create, read_only=False, migrate=True)
        try:
            return store.schema_change
        finally:
            store.close()

    def _open(self, create: bool, *, read_only: bool, migrate: bool) -> SqliteStore | PostgresStore:
        settings = self.store_settings()
        backend = settings["backend"]
        try:
            if backend == "sqlite":
                if not create:
                    self._require_database()
                return SqliteStore(self.database, self.cipher(), read_only=read_only, migrate=migrate)
            if backend == "postgres":
                return _open_postgres(settings, self.cipher(), self.config_file, migrate)
        except SchemaBehind as exc:
            raise DataDirError(f"the database ({exc.where}) has schema version {exc.found}; this permitgw needs "
                               f"{exc.latest}: run `permitgw migrate --data {self.root}` (no other command changes "
                               "the schema)") from exc
        raise DataDirError(f'{self.config_file}: [store] backend must be "sqlite" or "postgres", not {backend!r}')

    def _require_database(self) -> None:
        try:
            size = self.database.stat().st_size
        except FileNotFoundError:
            raise DataDirError(f"{self.database} is missing: restore it from a backup (or run `permitgw init` to "
                               "start an empty one)") from None
        except OSError as exc:
            raise DataDirError(f"{self.database}: {exc.strerror}") from exc
        if size == 0:
            raise DataDirError(f"{self.database} is empty (0 bytes): restore it from a backup (or delete it and run "
                               "`permitgw init` to start an empty one)")

    def log_verifier(self) -> str:
        """The verifier key (name+hash+key) of this gateway's log: what checkpoints and attestations verify with."""
        from gateway.audit.checkpoint import verifier_key
        from gateway.audit.log import log_origin

        ca_crt = self.keys / "ca.crt"
        try:
            origin = log_origin(ca_crt.read_bytes())
        except ValueError as exc:  # cryptography's word for a file that is not a PEM certificate
            raise DataDirError(f"{ca_crt} is damaged (not a PEM certificate): restore it from a backup") from exc
        return verifier_key(origin, self.signing_key().public_key())

    def signing_key(self) -> Ed25519PrivateKey:
        path = self.keys / "signing.key"
        try:
            key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        except ValueError as exc:
            raise DataDirError(f"{path} is damaged (not a PEM private key): restore it from a backup") from exc
        if not isinstance(key, Ed25519PrivateKey):
            raise DataDirError(f"{path} is not an Ed25519 key: restore it from a backup")
        return key


def _open_postgres(settings: dict[str, Any], cipher: FieldCipher, config_file: Path, migrate: bool) -> PostgresStore:
    if not settings["postgres_dsn"]:
        raise DataDirError(f'{config_file}: [store] backend = "postgres" needs postgres_dsn '
                           '(e.g. "host=127.0.0.1 dbname=permitgw user=permitgw")')
    try:
        from gateway.store.postgres import PostgresStore
    except ModuleNotFoundError as exc:
        if exc.name is None or not exc.name.startswith("psycopg"):
            raise
        raise DataDirError(f'{config_file}: [store] backend = "postgres" needs psycopg, which is not installed: '
                           "pip install 'permit-gateway[postgres]'") from exc
    return PostgresStore(settings["postgres_dsn"], cipher, settings["postgres_schema"], migrate=migrate)


def init(root: Path) -> list[str]:
    """Create whatever of the data directory is missing and apply pending schema migrations; return what was done,
    a line each ("created ...", "schema 5 -> 7 (...)"). Never overwrites keys."""
    d = DataDir(root)
    created: list[str] = []
    if not root.exists():
        root.mkdir(mode=0o700, parents=True)
        root.chmod(0o700)  # whatever the umask: keys, log and configuration are nobody else's business
    for sub in (d.keys, d.certs, d.rejects):
        sub.mkdir(mode=0o700, exist_ok=True)
    if ca.init_ca(d.keys):
        created.append("gateway CA and server certificate")
    before = {p.name for p in d.keys.iterdir()}
    FieldCipher.create_keys(d.keys)
    if {p.name for p in d.keys.iterdir()} - before:
        created.append("PII encryption and blind-index keys")
    signing = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    if write_new_private(d.keys / "signing.key", signing):
        created.append("Ed25519 signing key for checkpoints and attestations")
    if not d.config_file.exists():
        text = importlib.resources.files("gateway").joinpath("defaults.toml").read_text("utf-8")
        atomic_write(d.config_file, text.encode("utf-8"), mode=0o600, overwrite=False)
        created.append("config.toml")
    d.policies.mkdir(mode=0o700, exist_ok=True)
    for item in shipped_policies().iterdir():  # files added by an upgrade arrive; edited ones are kept
        target = d.policies / item.name
        if item.name.endswith((".conf", ".csv", ".toml")) and not target.exists():
            atomic_write(target, item.read_bytes(), mode=0o600, overwrite=False)
            created.append(f"policies/{item.name} (the shipped default)")
    sqlite = d.store_settings()["backend"] == "sqlite"
    # a new database where there is none (an empty or damaged gateway.db is reported, never replaced); an older
    # one's pending migrations
    change = d.migrate(create=sqlite and not d.database.exists())
    if change.before == 0:
        created.append("gateway.db" if sqlite else f"the tables ({change.where}, schema version {change.after})")
    done = [f"created {what}" for what in created]
    if 0 < change.before != change.after:
        done.append(change.describe())
    return done

