"""``python -m tenant_rag_devtools <command>``: the demo and the local Airflow instance (``make demo|ui|airflow``)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence


def cmd_demo(args: argparse.Namespace) -> int:
    from tenant_rag_devtools import demo

    demo.run()
    return 0


def cmd_airflow_ui(args: argparse.Namespace) -> int:
    from tenant_rag_devtools import airflow_ui

    return airflow_ui.run(port=args.port)


def cmd_airflow(args: argparse.Namespace) -> int:
    """``airflow ARGS`` against the ``make ui`` instance: its airflow.cfg plus the 0600 ``.run/ui/airflow.env``."""
    from tenant_rag_devtools.airflow_ui_config import ui_env

    env = ui_env()
    command = [sys.executable, "-m", "airflow", *args.airflow_args]
    sys.stdout.flush()
    os.execve(sys.executable, command, env)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tenant_rag_devtools", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser(
        "demo", help="the main job: two sample customers exported, indexed through Airflow, queried"
    ).set_defaults(func=cmd_demo)
    ui = sub.add_parser("airflow-ui", help="Airflow api-server + scheduler + dag-processor on the embedded defaults")
    ui.add_argument("--port", type=int, default=8080)
    ui.set_defaults(func=cmd_airflow_ui)
    airflow = sub.add_parser(
        "airflow", help="run an airflow CLI command against the 'make ui' instance (its config and secrets)"
    )
    airflow.add_argument("airflow_args", nargs=argparse.REMAINDER, help="e.g. dags list")
    airflow.set_defaults(func=cmd_airflow)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
