"""The trigger form of every customer DAG (Airflow Params) and the validated ``RunOptions`` read back from it.

``full_refresh``, ``space_keys`` (a subset of the customer's configured spaces; empty or null means all),
``dry_run`` (report what would change, write nothing) and ``force_delete`` (accept a deletion above the customer's
``rag.max_delete_ratio``). The form validates types and the space enum; ``run_options`` validates again at run time
because a run can also be created with a free-form ``conf`` (CLI, REST, backfill). Airflow merges every ``conf`` key
into the params, declared or not, so ``run_options`` also refuses keys it does not know (``{"ful_refresh": true}``
would otherwise run an ordinary incremental run without a word).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from difflib import get_close_matches
from typing import Any

from airflow.sdk import Param

from tenant_rag.config import CustomerConfig
from tenant_rag.constants import SPACE_KEY_PATTERN
from tenant_rag.errors import PermanentError
from tenant_rag.runs.options import RunOptions


class InvalidRunRequest(PermanentError, ValueError):
    """Params that no retry can fix (unknown key or space, wrong type)."""


def build_params(config: CustomerConfig) -> dict[str, Param]:
    configured = list(config.space_keys or [])
    items: dict[str, Any] = {"type": "string"}
    choices: dict[str, Any] = {}
    if configured:
        items["enum"] = configured
        choices["examples"] = configured  # the UI renders a multi-select from these
        spaces_help = f"Subset of the configured spaces ({', '.join(configured)}); empty means all of them."
    else:
        items["pattern"] = SPACE_KEY_PATTERN
        spaces_help = "Space folders to process; empty means every folder of the export."
    return {
        "full_refresh": Param(
            False,
            type="boolean",
            title="Full refresh",
            description="Export every page instead of the pages changed in the run's data interval.",
        ),
        "space_keys": Param(
            [],
            type=["array", "null"],  # the UI sends null when the multi-select is empty
            items=items,
            uniqueItems=True,
            title="Spaces",
            description=spaces_help,
            **choices,
        ),
        "dry_run": Param(
            False,
            type="boolean",
            title="Dry run",
            description="Report what would change (new, changed, deleted pages); write nothing.",
        ),
        "force_delete": Param(
            False,
            type="boolean",
            title="Force deletions",
            description=f"Accept deleting more than {config.rag.max_delete_ratio:.0%} of the indexed pages.",
        ),
    }


def _flag(params: Mapping[str, Any], name: str) -> bool:
    value = params.get(name, False)
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    if value is None:
        return False
    raise InvalidRunRequest(f"param {name!r} must be true or false, got {value!r}")


#: The keys a run's params (trigger form or ``conf``) may hold: the fields of ``RunOptions``.
ACCEPTED_PARAMS = tuple(field.name for field in fields(RunOptions))


def _refuse_unknown_keys(params: Mapping[str, Any], config: CustomerConfig) -> None:
    unknown = sorted(str(key) for key in params if key not in ACCEPTED_PARAMS)
    if not unknown:
        return
    named = []
    for key in unknown:
        close = get_close_matches(key, ACCEPTED_PARAMS, n=1)
        named.append(f"{key!r} (did you mean {close[0]!r}?)" if close else repr(key))
    raise InvalidRunRequest(
        f"customer {config.customer_id!r}: unknown run param{'s' if len(unknown) > 1 else ''} {', '.join(named)}; "
        f"the accepted params are {', '.join(ACCEPTED_PARAMS)}"
    )


def run_options(params: Mapping[str, Any], config: CustomerConfig, available: list[str] | None = None) -> RunOptions:
    """Validate the run's params: only the accepted keys, spaces of the customer (``available`` for directory
    sources), boolean flags."""
    _refuse_unknown_keys(params, config)
    raw = params.get("space_keys") or []
    if isinstance(raw, str):
        raw = [part.strip() for part in raw.split(",") if part.strip()]
    if not isinstance(raw, list | tuple) or not all(isinstance(key, str) for key in raw):
        raise InvalidRunRequest(f"param 'space_keys' must be a list of space keys, got {raw!r}")
    allowed = list(config.space_keys) if config.space_keys else available
    if allowed is not None:
        unknown = [key for key in raw if key not in allowed]
        if unknown:
            raise InvalidRunRequest(
                f"customer {config.customer_id!r}: param space_keys has {', '.join(map(repr, unknown))}, which "
                f"the customer does not export; choose from {', '.join(allowed) or '(none)'}"
            )
    return RunOptions(
        full_refresh=_flag(params, "full_refresh"),
        dry_run=_flag(params, "dry_run"),
        space_keys=list(dict.fromkeys(raw)) or None,
        force_delete=_flag(params, "force_delete"),
    )
