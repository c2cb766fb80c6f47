"""Stale staging folders of killed runs are removed at the start of the next run; live and recent ones stay."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tenant_rag.constants import STAGING_MAX_AGE_ENV
from tenant_rag.errors import SettingsError
from tenant_rag.runs.housekeeping import staging_max_age, sweep_stale_staging

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def _run_folder(base: Path, name: str, touched: datetime) -> Path:
    folder = base / name
    (folder / "embed").mkdir(parents=True)
    (folder / "changes.json").write_text("{}", encoding="utf-8")
    (folder / "embed" / "vectors_00000.npy").write_bytes(b"x")
    for path in (folder / "embed" / "vectors_00000.npy", folder / "changes.json", folder / "embed", folder):
        os.utime(path, (touched.timestamp(), touched.timestamp()))
    return folder


def test_old_folders_go_recent_and_kept_ones_stay(tmp_path: Path) -> None:
    base = tmp_path / "staging" / "acme"
    killed = _run_folder(base, "manual__killed", NOW - 3 * DAY)
    current = _run_folder(base, "manual__current", NOW - 3 * DAY)  # this run's own folder, from an earlier try
    recent = _run_folder(base, "manual__recent", NOW - DAY / 2)
    (base / "notes.txt").write_text("not a run folder", encoding="utf-8")
    removed = sweep_stale_staging(base, keep={"manual__current"}, max_age=DAY, now=NOW)
    assert removed == [killed] and not killed.exists()
    assert current.is_dir() and recent.is_dir() and (base / "notes.txt").is_file()


def test_a_folder_still_written_below_counts_as_recent(tmp_path: Path) -> None:
    base = tmp_path / "acme"
    folder = _run_folder(base, "manual__slow_embed", NOW - 3 * DAY)
    os.utime(folder / "embed", ((NOW - DAY / 4).timestamp(),) * 2)  # a batch landed there six hours ago
    assert sweep_stale_staging(base, keep=(), max_age=DAY, now=NOW) == [] and folder.is_dir()


def test_nothing_to_sweep_without_a_staging_folder(tmp_path: Path) -> None:
    assert sweep_stale_staging(tmp_path / "missing", keep=(), max_age=DAY, now=NOW) == []
    assert not (tmp_path / "missing").exists()


def test_the_bound_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(STAGING_MAX_AGE_ENV, raising=False)
    assert staging_max_age() == DAY
    monkeypatch.setenv(STAGING_MAX_AGE_ENV, "3600")
    assert staging_max_age() == timedelta(hours=1)
    monkeypatch.setenv(STAGING_MAX_AGE_ENV, "a week")
    with pytest.raises(SettingsError, match=STAGING_MAX_AGE_ENV):
        staging_max_age()
