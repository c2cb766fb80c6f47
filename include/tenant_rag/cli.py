"""Command line: ``python -m tenant_rag <command>`` for customers, the embedded database and the API."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from tenant_rag.api import cli as api_cli
from tenant_rag.config import ConfluenceExportConfig, CustomerConfig, DirectoryExportConfig, RAGConfig
from tenant_rag.constants import CONFLUENCE_CONN_ID
from tenant_rag.customers import CustomerManager
from tenant_rag.errors import TenantRagError


def _manager(args: argparse.Namespace) -> CustomerManager:
    return CustomerManager(Path(args.customers_dir) if args.customers_dir else None)


def cmd_list(args: argparse.Namespace) -> int:
    manager = _manager(args)
    for customer_id in manager.list_ids():
        try:
            state = manager.load_state(customer_id)
            print(f"{customer_id}\t{state.status}\tdocs={state.total_indexed_documents}")
        except TenantRagError as exc:
            print(f"{customer_id}\terror\t{exc}")
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    report = _manager(args).validate_all()
    for config in report.valid:
        print(f"ok      {config.customer_id}  (collection {config.collection_name})")
    for customer_id, error in sorted(report.errors.items()):
        print(f"INVALID {customer_id}: {error}", file=sys.stderr)
    print(f"{len(report.valid)} valid, {len(report.errors)} invalid")
    return 0 if report.ok else 1


def cmd_show(args: argparse.Namespace) -> int:
    manager = _manager(args)
    config = manager.load(args.customer_id)
    state = manager.load_state(args.customer_id)
    print(json.dumps({"config": config.model_dump(mode="json"), "state": state.model_dump(mode="json")}, indent=2))
    return 0


def cmd_create(args: argparse.Namespace) -> int:
    export: ConfluenceExportConfig | DirectoryExportConfig
    if args.directory:
        export = DirectoryExportConfig(source="directory", path=args.directory)
    else:
        if not args.base_url or not args.space:
            print("create: give --directory PATH, or --base-url URL and --space KEY", file=sys.stderr)
            return 2
        export = ConfluenceExportConfig(
            source="confluence",
            flavor=args.flavor,
            base_url=args.base_url,
            space_keys=args.space,
            conn_id=args.conn_id,
        )
    config = CustomerConfig(
        customer_id=args.customer_id,
        display_name=args.name or args.customer_id,
        export=export,
        schedule=args.schedule,
        rag=RAGConfig(embedding_model=args.embedding_model),
    )
    paths = _manager(args).create(config)
    print(f"created customer {config.customer_id!r} in {paths.root}")
    return 0


def cmd_delete(args: argparse.Namespace) -> int:
    if args.confirm != args.customer_id:
        print(f"delete: pass --confirm {args.customer_id} to offboard this customer", file=sys.stderr)
        return 2
    manager = _manager(args)
    drop = None
    if not args.keep_index:
        from tenant_rag.manager import CustomerRAGManager

        def drop(config: CustomerConfig) -> None:
            CustomerRAGManager(config, customer_dir=manager.paths(config.customer_id).root).cleanup_index()

    manager.delete(args.customer_id, drop_store=drop)
    print(f"deleted customer {args.customer_id!r}")
    return 0


def cmd_reset_role_passwords(args: argparse.Namespace) -> int:
    """After rotating ``TENANT_RAG_TENANT_ROLE_SECRET``: each indexed customer's role gets its new password."""
    from tenant_rag.manager import CustomerRAGManager
    from tenant_rag.query import IndexNotReadyError

    manager = _manager(args)
    ids = args.customer_ids or manager.list_ids()
    failed = 0
    for customer_id in ids:
        try:
            config = manager.load(customer_id)
            rag = CustomerRAGManager(config, customer_dir=manager.paths(customer_id).root)
            print(f"{customer_id}: {'password reset' if rag.reset_role_password() else 'no secret set, login only'}")
        except IndexNotReadyError as exc:
            print(f"{customer_id}: skipped ({exc})")
        except TenantRagError as exc:
            failed += 1
            print(f"{customer_id}: error: {exc}", file=sys.stderr)
    return 1 if failed else 0


def cmd_db(args: argparse.Namespace) -> int:
    from tenant_rag import embedded_pg

    if args.action == "start":
        print(embedded_pg.start().url)
    elif args.action == "stop":
        print("stopped" if embedded_pg.stop() else "not running")
    else:
        url = embedded_pg.running_url()
        print(url or "not running")
        return 0 if url else 1
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tenant_rag", description=__doc__)
    parser.add_argument("--customers-dir", help="folder of customer folders (default: data/customers)")
    sub = parser.add_subparsers(dest="command", required=True)

    customers = sub.add_parser("customers", help="create, list, show, validate and delete customers")
    csub = customers.add_subparsers(dest="action", required=True)
    csub.add_parser("list", help="ids, status and indexed page counts").set_defaults(func=cmd_list)
    csub.add_parser("validate", help="validate every config; exit 1 if any is invalid").set_defaults(func=cmd_validate)
    show = csub.add_parser("show", help="config and state of one customer as JSON")
    show.add_argument("customer_id")
    show.set_defaults(func=cmd_show)
    create = csub.add_parser("create", help="write a new customer folder with config.yaml and state.json")
    create.add_argument("customer_id")
    create.add_argument("--name", help="display name")
    create.add_argument("--directory", help="index an existing Markdown tree (<dir>/<space>/*.md)")
    create.add_argument("--base-url", help="Confluence site URL")
    create.add_argument("--flavor", choices=["cloud", "server"], default="cloud")
    create.add_argument("--space", action="append", help="space key (repeat for several)")
    create.add_argument("--conn-id", default=CONFLUENCE_CONN_ID, help="Airflow Connection with credentials")
    create.add_argument("--schedule", default="@daily")
    create.add_argument(
        "--embedding-model", default="wordllama-l2-256", choices=["wordllama-l2-256", "gemini-embedding-001"]
    )
    create.set_defaults(func=cmd_create)
    delete = csub.add_parser("delete", help="offboard: drop the index and remove the customer's folder")
    delete.add_argument("customer_id")
    delete.add_argument("--confirm", help="repeat the customer id to confirm")
    delete.add_argument("--keep-index", action="store_true", help="remove files only, keep the database store")
    delete.set_defaults(func=cmd_delete)
    reset = csub.add_parser(
        "reset-role-passwords",
        help="after rotating TENANT_RAG_TENANT_ROLE_SECRET: set each tenant role's password from the new secret",
    )
    reset.add_argument("customer_ids", nargs="*", help="only these customers (default: all)")
    reset.set_defaults(func=cmd_reset_role_passwords)

    db = sub.add_parser("db", help="the embedded PostgreSQL + pgvector server")
    db.add_argument("action", choices=["start", "stop", "url"])
    db.set_defaults(func=cmd_db)
    api_cli.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except TenantRagError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
