"""Airflow integration of tenantrag: hooks, one operator per pipeline stage, and the per-customer DAG builder.

Modules here are imported by DAG files and task processes through ``PYTHONPATH`` (``plugins/`` is on it), never
by Airflow's plugin loader: ``.airflowignore`` hides everything but ``api_plugin.py`` from that loader, which
would otherwise import each file a second time as a top-level module.
"""

from __future__ import annotations
