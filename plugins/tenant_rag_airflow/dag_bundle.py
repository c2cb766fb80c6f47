"""A DAG bundle whose shard files follow the customer count (see ``dag_shards``).

Configure it instead of the plain local bundle (``dag_bundle_config_list``, :func:`bundle_config`); the DAG processor
calls :meth:`CustomerShardsDagBundle.refresh` every ``refresh_interval`` seconds, which writes the shard files the
customer folders want and lacks, so no shard outgrows the shard size however many customers come. A worker builds a
DAG from the same folder, so the folder must be the one the workers see (a shared volume or the same image + refresh).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from airflow.dag_processing.bundles.local import LocalDagBundle

from tenant_rag.parse_env import customers_dir
from tenant_rag_airflow.dag_shards import SHIPPED_SHARD_FILES, customer_folders, write_shard_files

log = logging.getLogger(__name__)

CLASSPATH = "tenant_rag_airflow.dag_bundle.CustomerShardsDagBundle"


class CustomerShardsDagBundle(LocalDagBundle):
    """A local DAG folder that gains shard files as customer folders are added; it never removes one.

    :param min_files: the fewest shard files to keep (default: the shipped ones).
    """

    def __init__(self, *, min_files: int = SHIPPED_SHARD_FILES, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.min_files = min_files

    def initialize(self) -> None:
        super().initialize()
        self._write_missing()

    def refresh(self) -> None:
        super().refresh()
        self._write_missing()

    def _write_missing(self) -> None:
        customers = len(customer_folders(customers_dir()))
        try:
            written = write_shard_files(self.path, customers, min_files=self.min_files)
        except OSError as exc:  # a read-only folder (an image, a worker's mount): parse what is there
            log.warning("cannot write DAG shard files into %s (%s); %s", self.path, exc, "shards may outgrow")
            return
        if written:
            log.info("wrote %d DAG shard file(s) for the customer count: %s", len(written), ", ".join(written))


def bundle_config(
    path: Path, *, name: str = "dags-folder", refresh_interval: int | None = None, min_files: int | None = None
) -> str:
    """``AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST`` naming this bundle over ``path``."""
    kwargs: dict[str, object] = {"path": str(path)}
    if refresh_interval is not None:
        kwargs["refresh_interval"] = refresh_interval
    if min_files is not None:
        kwargs["min_files"] = min_files
    return json.dumps([{"name": name, "classpath": CLASSPATH, "kwargs": kwargs}])
