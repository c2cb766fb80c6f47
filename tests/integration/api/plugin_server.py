"""Run Airflow's own plugin mounting (``airflow.api_fastapi.app.init_plugins``) and its access-log middleware
(``init_access_logging``) on a bare FastAPI root app and serve it with uvicorn, access log on:
``python -m tests.integration.api.plugin_server <port>``. Used by test_airflow_plugin.py in a subprocess, because
Airflow caches the plugins it loaded for the life of a process."""

from __future__ import annotations

import sys

import uvicorn
from airflow.api_fastapi.app import init_access_logging, init_plugins
from fastapi import FastAPI


def main(port: int) -> None:
    root = FastAPI()
    init_plugins(root)
    init_access_logging(root)
    uvicorn.run(root, host="127.0.0.1", port=port, log_level="info", access_log=True)


if __name__ == "__main__":
    main(int(sys.argv[1]))
