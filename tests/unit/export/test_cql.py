"""CQL the client sends: quoting, windows in the site's time zone with minute precision, DST, overlap."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tenant_rag.export import cql


def test_quoting_escapes_quotes_and_backslashes() -> None:
    assert cql.quote_value('say "hi" \\ bye') == '"say \\"hi\\" \\\\ bye"'
    assert cql.space_pages("ENG") == 'space = "ENG" AND type = page'
    assert cql.label_scope(["a", "b"], ["x"]) == 'label IN ("a", "b") AND label NOT IN ("x")'
    assert cql.combine("a", "", None, "(b OR c)") == "a AND (b OR c)"


def test_window_in_utc_with_overlap_floor_and_ceiling() -> None:
    start = datetime(2026, 3, 1, 10, 0, 30, tzinfo=UTC)
    end = datetime(2026, 3, 1, 11, 0, 1, tzinfo=UTC)
    assert cql.window_clause(start, end, UTC) == (
        'lastmodified >= "2026-03-01 09:55" AND lastmodified < "2026-03-01 11:01"'
    )
    exact = cql.window_clause(
        datetime(2026, 3, 1, 10, tzinfo=UTC), datetime(2026, 3, 1, 11, tzinfo=UTC), UTC, overlap=timedelta(0)
    )
    assert exact == 'lastmodified >= "2026-03-01 10:00" AND lastmodified < "2026-03-01 11:00"'


def test_window_is_written_in_the_site_time_zone() -> None:
    zone = ZoneInfo("Asia/Kolkata")  # +05:30
    clause = cql.window_clause(datetime(2026, 3, 1, 10, tzinfo=UTC), datetime(2026, 3, 1, 11, tzinfo=UTC), zone)
    assert clause == 'lastmodified >= "2026-03-01 15:25" AND lastmodified < "2026-03-01 16:30"'


def test_naive_datetimes_are_utc() -> None:
    naive = cql.window_clause(datetime(2026, 3, 1, 10), datetime(2026, 3, 1, 11), ZoneInfo("Europe/Berlin"))
    assert naive == 'lastmodified >= "2026-03-01 10:55" AND lastmodified < "2026-03-01 12:00"'


def test_dst_fall_back_window_covers_the_repeated_hour() -> None:
    zone = ZoneInfo("America/New_York")  # 2026-11-01 06:00 UTC: 02:00 EDT -> 01:00 EST
    start, end = datetime(2026, 11, 1, 5, 0, tzinfo=UTC), datetime(2026, 11, 1, 7, 0, tzinfo=UTC)
    low, high = cql.local_window(start, end, zone, overlap=timedelta(0))
    # every instant of the window, as wall-clock time, falls inside [low, high)
    moment = start
    while moment < end:
        wall = moment.astimezone(zone).replace(tzinfo=None)
        assert low <= wall < high, moment
        moment += timedelta(minutes=7)


def test_dst_spring_forward_window() -> None:
    zone = ZoneInfo("Europe/Berlin")  # 2026-03-29 01:00 UTC: 02:00 CET -> 03:00 CEST
    low, high = cql.local_window(
        datetime(2026, 3, 29, 0, 30, tzinfo=UTC), datetime(2026, 3, 29, 1, 30, tzinfo=UTC), zone, overlap=timedelta(0)
    )
    assert (low.hour, low.minute, high.hour, high.minute) == (1, 30, 3, 30)


def test_bad_windows_and_zones_are_refused() -> None:
    now = datetime(2026, 3, 1, tzinfo=UTC)
    with pytest.raises(ValueError, match="not after its start"):
        cql.window_clause(now, now - timedelta(hours=1), UTC, overlap=timedelta(0))
    with pytest.raises(ValueError, match="IANA"):
        cql.site_zone("Mars/Olympus")
    assert cql.site_zone("UTC") is UTC
