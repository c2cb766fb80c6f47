"""API keys: per-customer keys and the admin key, stored only as hashes.

A customer key looks like ``trk_<key_id>_<secret>``; the admin key ``tra_<secret>``. The secret is 32 random
bytes, so a plain SHA-256 is enough to store it (a slow password hash protects low-entropy passwords, which
these are not) and verification costs microseconds per request. The plaintext is returned once, by the
function that creates it, and never written anywhere.

Customer keys live in ``<customer folder>/api_keys.json`` (mode 0600), so offboarding a customer removes its keys
with its folder. The admin key hash comes from ``TENANT_RAG_ADMIN_KEY_HASH`` or a JSON file (see settings).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tenant_rag.config import CONFIG_FILE
from tenant_rag.errors import CustomerNotFoundError, TenantRagError
from tenant_rag.fsutil import atomic_write_text, exclusive_lock
from tenant_rag.naming import validate_customer_id

KEYS_FILE = "api_keys.json"
KEYS_LOCK = ".api_keys.lock"
CUSTOMER_PREFIX = "trk"
ADMIN_PREFIX = "tra"
MAX_KEY_LENGTH = 200


class KeyStoreError(TenantRagError):
    """A key file that cannot be read or written; names the customer and the file."""


@dataclass(frozen=True)
class IssuedKey:
    """A freshly created key: ``key`` is the only copy of the plaintext."""

    customer_id: str | None
    key_id: str
    key: str


def hash_key(plaintext: str) -> str:
    return "sha256$" + hashlib.sha256(plaintext.encode("utf-8")).hexdigest()


def matches(plaintext: str, stored_hash: str) -> bool:
    """Constant-time comparison of ``plaintext``'s hash with a stored one."""
    return hmac.compare_digest(hash_key(plaintext).encode(), stored_hash.encode())


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def new_customer_key() -> tuple[str, str]:
    """(key_id, plaintext) of a new customer key."""
    key_id = secrets.token_hex(4)
    return key_id, f"{CUSTOMER_PREFIX}_{key_id}_{secrets.token_urlsafe(32)}"


def new_admin_key() -> str:
    return f"{ADMIN_PREFIX}_{secrets.token_urlsafe(32)}"


def customer_key_id(plaintext: str) -> str | None:
    """The key id embedded in a customer key, or None when ``plaintext`` is not shaped like one."""
    parts = plaintext.split("_", 2)
    if len(parts) != 3 or parts[0] != CUSTOMER_PREFIX or len(parts[1]) != 8:
        return None
    return parts[1]


class _JsonFileCache:
    """Parsed JSON files, re-read only when the file's inode, size or mtime changes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[Path, tuple[tuple[int, int, int], Any]] = {}

    def read(self, path: Path) -> Any | None:
        try:
            info = path.stat()
        except FileNotFoundError:
            return None
        stamp = (info.st_ino, info.st_size, info.st_mtime_ns)
        with self._lock:
            cached = self._entries.get(path)
        if cached and cached[0] == stamp:
            return cached[1]
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise KeyStoreError(f"cannot read key file {path}: {exc}") from exc
        with self._lock:
            if len(self._entries) > 10_000:
                self._entries.clear()
            self._entries[path] = (stamp, data)
        return data


def _write_private(path: Path, data: dict[str, Any]) -> None:
    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=True) + "\n")
    os.chmod(path, 0o600)


class CustomerKeyStore:
    """Create, rotate, revoke, list and verify the keys of customers under ``base_dir``."""

    def __init__(self, base_dir: Path) -> None:
        self.base_dir = Path(base_dir)
        self._cache = _JsonFileCache()

    def path(self, customer_id: str) -> Path:
        return self.base_dir / validate_customer_id(customer_id) / KEYS_FILE

    def _load(self, customer_id: str) -> dict[str, Any]:
        path = self.path(customer_id)
        data = self._cache.read(path)
        if data is None:
            return {"customer_id": customer_id, "keys": []}
        if not isinstance(data, dict) or not isinstance(data.get("keys"), list):
            raise KeyStoreError(f"customer {customer_id!r}: {path}: field 'keys' must be a list")
        return data

    def _require_customer(self, customer_id: str) -> None:
        if not (self.base_dir / validate_customer_id(customer_id) / CONFIG_FILE).is_file():
            raise CustomerNotFoundError(f"customer {customer_id!r}: no {CONFIG_FILE} in {self.base_dir / customer_id}")

    def create(self, customer_id: str, *, label: str | None = None, revoke_others: bool = False) -> IssuedKey:
        """Add a key (and with ``revoke_others`` revoke every older one); return its plaintext once."""
        self._require_customer(customer_id)
        key_id, plaintext = new_customer_key()
        with exclusive_lock(self.path(customer_id).parent / KEYS_LOCK):
            data = self._load(customer_id)
            keys = [dict(k) for k in data["keys"]]
            if revoke_others:
                for entry in keys:
                    entry.setdefault("revoked_at", None)
                    entry["revoked_at"] = entry["revoked_at"] or _now()
            keys.append(
                {
                    "key_id": key_id,
                    "hash": hash_key(plaintext),
                    "label": label,
                    "created_at": _now(),
                    "revoked_at": None,
                }
            )
            _write_private(self.path(customer_id), {"customer_id": customer_id, "keys": keys})
        return IssuedKey(customer_id=customer_id, key_id=key_id, key=plaintext)

    def rotate(self, customer_id: str, *, label: str | None = None) -> IssuedKey:
        """A new key; every previous key of the customer stops working at once."""
        return self.create(customer_id, label=label, revoke_others=True)

    def revoke(self, customer_id: str, key_id: str | None = None) -> int:
        """Revoke one key (or all with ``key_id=None``); return how many were active and are now revoked."""
        self._require_customer(customer_id)
        with exclusive_lock(self.path(customer_id).parent / KEYS_LOCK):
            data = self._load(customer_id)
            keys = [dict(k) for k in data["keys"]]
            count = 0
            for entry in keys:
                if (key_id is None or entry.get("key_id") == key_id) and not entry.get("revoked_at"):
                    entry["revoked_at"] = _now()
                    count += 1
            if key_id is not None and not any(k.get("key_id") == key_id for k in keys):
                raise KeyStoreError(f"customer {customer_id!r}: no key with id {key_id!r} in {self.path(customer_id)}")
            _write_private(self.path(customer_id), {"customer_id": customer_id, "keys": keys})
        return count

    def list(self, customer_id: str) -> list[dict[str, Any]]:
        """Key ids, labels and dates (never hashes)."""
        self._require_customer(customer_id)
        return [{k: v for k, v in entry.items() if k != "hash"} for entry in self._load(customer_id)["keys"]]

    def verify(self, customer_id: str, plaintext: str) -> bool:
        """True when ``plaintext`` is an active key of ``customer_id`` (False for unknown customers)."""
        key_id = customer_key_id(plaintext)
        if key_id is None:
            return False
        try:
            keys = self._load(customer_id)["keys"]
        except (KeyStoreError, ValueError):
            return False
        ok = False
        for entry in keys:
            if entry.get("key_id") == key_id and not entry.get("revoked_at"):
                ok = matches(plaintext, str(entry.get("hash", ""))) or ok
        return ok


class AdminKey:
    """The admin key's hash: from settings (environment) if given, else from a JSON file."""

    def __init__(self, env_hash: str | None, file: Path) -> None:
        self.env_hash = env_hash
        self.file = Path(file)
        self._cache = _JsonFileCache()

    def stored_hash(self) -> str | None:
        if self.env_hash:
            return self.env_hash
        data = self._cache.read(self.file)
        if not isinstance(data, dict) or not isinstance(data.get("hash"), str):
            return None
        return str(data["hash"])

    def verify(self, plaintext: str) -> bool:
        stored = self.stored_hash()
        return bool(stored) and plaintext.startswith(f"{ADMIN_PREFIX}_") and matches(plaintext, str(stored))

    def set_new(self) -> str:
        """Write a new admin key's hash to the file and return the plaintext (once)."""
        plaintext = new_admin_key()
        self.file.parent.mkdir(parents=True, exist_ok=True)
        _write_private(self.file, {"hash": hash_key(plaintext), "created_at": _now()})
        return plaintext
