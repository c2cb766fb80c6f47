"""API commands of ``python -m tenant_rag``: customer keys, the admin key, and ``serve-api``.

``register(subparsers)`` adds the commands; each sets ``func(args) -> int``. New keys are printed once on stdout
(the only copy: only their hash is stored); notes go to stderr so ``KEY=$(python -m tenant_rag create-key acme)``
captures just the key.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from tenant_rag.api.keys import AdminKey, CustomerKeyStore, hash_key, new_admin_key
from tenant_rag.api.settings import ApiSettings
from tenant_rag.constants import ADMIN_KEY_HASH_ENV
from tenant_rag.paths import admin_key_file, customers_dir
from tenant_rag.settings import api_settings


def _settings() -> ApiSettings:
    return api_settings()


def _store(args: argparse.Namespace) -> CustomerKeyStore:
    base = getattr(args, "customers_dir", None)
    return CustomerKeyStore(Path(base) if base else (_settings().customers_dir or customers_dir()))


def _note(text: str) -> None:
    print(text, file=sys.stderr)


def cmd_create_key(args: argparse.Namespace) -> int:
    issued = _store(args).create(args.customer_id, label=args.label)
    print(issued.key)
    _note(f"created key {issued.key_id} for customer {args.customer_id!r}; store it now, it is not shown again")
    return 0


def cmd_rotate_key(args: argparse.Namespace) -> int:
    issued = _store(args).rotate(args.customer_id, label=args.label)
    print(issued.key)
    _note(f"new key {issued.key_id} for customer {args.customer_id!r}; every older key of it is revoked")
    return 0


def cmd_revoke_key(args: argparse.Namespace) -> int:
    if not args.all and not args.key_id:
        _note("revoke-key: give a KEY_ID (see list-keys) or --all")
        return 2
    count = _store(args).revoke(args.customer_id, None if args.all else args.key_id)
    _note(f"revoked {count} key(s) of customer {args.customer_id!r}")
    return 0


def cmd_list_keys(args: argparse.Namespace) -> int:
    keys: list[dict[str, Any]] = _store(args).list(args.customer_id)
    print(json.dumps(keys, indent=2))
    return 0


def cmd_set_admin_key(args: argparse.Namespace) -> int:
    if args.print_hash:
        key = new_admin_key()
        print(key)
        _note(f"export {ADMIN_KEY_HASH_ENV}='{hash_key(key)}'   # the key above is not stored anywhere")
        return 0
    settings = _settings()
    path = Path(args.file) if args.file else (settings.admin_key_file or admin_key_file())
    key = AdminKey(None, path).set_new()
    print(key)
    _note(f"admin key hash written to {path}; store the key now, it is not shown again")
    if settings.admin_key_hash:
        _note(f"note: {ADMIN_KEY_HASH_ENV} is set and takes precedence over the file")
    return 0


def cmd_serve_api(args: argparse.Namespace) -> int:
    from tenant_rag.api.app import serve

    overrides: dict[str, Any] = {}
    if getattr(args, "customers_dir", None):
        overrides["customers_dir"] = Path(args.customers_dir)
    settings = api_settings(**overrides)
    serve(settings, host=args.host, port=args.port)
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add create-key, rotate-key, revoke-key, list-keys, set-admin-key and serve-api."""
    create = subparsers.add_parser("create-key", help="create an API key for a customer (printed once)")
    create.add_argument("customer_id")
    create.add_argument("--label", help="a note to recognise the key by (e.g. who uses it)")
    create.set_defaults(func=cmd_create_key)

    rotate = subparsers.add_parser("rotate-key", help="create a new key for a customer and revoke all older ones")
    rotate.add_argument("customer_id")
    rotate.add_argument("--label")
    rotate.set_defaults(func=cmd_rotate_key)

    revoke = subparsers.add_parser("revoke-key", help="revoke one key of a customer (or --all)")
    revoke.add_argument("customer_id")
    revoke.add_argument("key_id", nargs="?", help="the key id (second part of trk_<id>_...)")
    revoke.add_argument("--all", action="store_true", help="revoke every key of the customer")
    revoke.set_defaults(func=cmd_revoke_key)

    listing = subparsers.add_parser("list-keys", help="key ids, labels and dates of a customer (never secrets)")
    listing.add_argument("customer_id")
    listing.set_defaults(func=cmd_list_keys)

    admin = subparsers.add_parser("set-admin-key", help="create a new admin key (printed once; hash stored)")
    admin.add_argument("--file", help="where to store the hash (default: .run/api/admin_key.json)")
    admin.add_argument(
        "--print-hash", action="store_true", help="store nothing; print the key and its TENANT_RAG_ADMIN_KEY_HASH"
    )
    admin.set_defaults(func=cmd_set_admin_key)

    serve = subparsers.add_parser("serve-api", help="serve the query/status/index API with uvicorn")
    serve.add_argument("--host", help="default TENANT_RAG_API_HOST or 127.0.0.1")
    serve.add_argument("--port", type=int, help="default TENANT_RAG_API_PORT or 8000")
    serve.set_defaults(func=cmd_serve_api)
