"""Which pages a run exports: everything, or the pages modified in a time window.

* ``full_refresh``, the customer's first successful run, or a configured space that was never exported: full.
* Scheduled and backfill runs: the run's data interval ``[data_interval_start, data_interval_end)``. Re-running an
  interval exports the same pages again, so it is idempotent; a backfill over N intervals after a first full run
  ends with the same index as one full run (deletions are found by the exporter's id listing, not by the window).
* Manual, asset-triggered and other runs (no meaningful interval): incremental since the end of the last
  successful export (``as_of`` of the newest successful run in ``run_history``) up to the run's ``run_after``;
  a customer with no such record is exported in full. So "trigger now" catches up on everything missed, including
  intervals whose scheduled run failed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from tenant_rag.runs.record import RunSummary

INTERVAL_RUN_TYPES = frozenset({"scheduled", "backfill"})


@dataclass(frozen=True)
class ExportPlan:
    mode: Literal["full", "incremental"]
    reason: str
    window_start: datetime | None = None
    window_end: datetime | None = None

    @property
    def window(self) -> tuple[datetime, datetime] | None:
        if self.window_start is None or self.window_end is None:
            return None
        return (self.window_start, self.window_end)

    def as_stats(self) -> dict[str, Any]:
        """The plan as the export stage reports it (``ExportSummary``'s fields)."""
        return {
            "mode": self.mode,
            "reason": self.reason,
            "window_start": self.window_start.isoformat() if self.window_start else None,
            "window_end": self.window_end.isoformat() if self.window_end else None,
        }


def last_export_as_of(run_history: Iterable[RunSummary]) -> datetime | None:
    """The latest export ``as_of`` among successful (non-dry) runs in ``CustomerState.run_history``."""
    found = [
        run.export.as_of
        for run in run_history
        if run.status == "success" and run.export.as_of is not None and run.export.as_of.tzinfo is not None
    ]
    return max(found, default=None)


def plan_export(
    *,
    run_type: str,
    data_interval_start: datetime | None,
    data_interval_end: datetime | None,
    run_after: datetime,
    full_refresh: bool,
    has_index: bool,
    never_exported_spaces: list[str],
    previous_as_of: datetime | None,
) -> ExportPlan:
    if full_refresh:
        return ExportPlan("full", "full_refresh requested")
    if not has_index:
        return ExportPlan("full", "first run: the customer has no successful run yet")
    if never_exported_spaces:
        return ExportPlan("full", f"space(s) never exported: {', '.join(never_exported_spaces)}")
    has_interval = (
        data_interval_start is not None and data_interval_end is not None and data_interval_start < data_interval_end
    )
    if run_type in INTERVAL_RUN_TYPES and has_interval:
        return ExportPlan("incremental", f"{run_type} run: its data interval", data_interval_start, data_interval_end)
    if previous_as_of is not None and previous_as_of < run_after:
        return ExportPlan("incremental", f"{run_type} run: since the last successful export", previous_as_of, run_after)
    return ExportPlan("full", f"{run_type} run with no previous export time")
