"""``ConfigErrorOperator``: the only task of a customer whose config.yaml is invalid; it fails with the message.

A broken customer keeps a DAG with its usual id (so it stays visible, with the validation message naming the file
and field in the DAG's description, docs and this task's log) instead of an import error, which in a one-file
factory would hide every other customer's DAG too.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowFailException

if TYPE_CHECKING:
    from airflow.sdk import Context


class ConfigErrorOperator(BaseOperator):
    template_fields: Sequence[str] = ()
    ui_color = "#ffcdd2"

    def __init__(self, *, message: str, config_path: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.message = message
        self.config_path = config_path

    def execute(self, context: Context) -> None:
        raise AirflowFailException(f"{self.message}\nFix {self.config_path}; the DAG is rebuilt on the next parse.")
