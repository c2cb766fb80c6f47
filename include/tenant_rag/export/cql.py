"""CQL the exporter sends: quoting, the space/type base query, label scope and last-modified windows.

CQL dates are wall-clock times in the *site's* time zone with minute precision (``"yyyy-MM-dd HH:mm"``). A UTC
window [start, end) is turned into a local window that contains it: the start is moved back by the overlap and
floored to the minute, the end is ceiled to the minute, and across a DST change the wider offset is used on each
side (the wall clock is not monotonic there). Pages found twice are harmless: the version gate skips them.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_OVERLAP = timedelta(minutes=5)
CQL_TIME = "%Y-%m-%d %H:%M"


def quote_value(value: str) -> str:
    """A CQL string literal."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def space_pages(space_key: str) -> str:
    return f"space = {quote_value(space_key)} AND type = page"


def label_scope(include: list[str], exclude: list[str]) -> str:
    parts = []
    if include:
        parts.append(f"label IN ({', '.join(quote_value(label) for label in include)})")
    if exclude:
        parts.append(f"label NOT IN ({', '.join(quote_value(label) for label in exclude)})")
    return " AND ".join(parts)


def site_zone(name: str) -> ZoneInfo | timezone:
    if name.upper() in ("UTC", "Z", "GMT"):
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"site_timezone {name!r} is not an IANA time zone (e.g. 'Europe/Berlin')") from exc


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def local_window(
    start: datetime, end: datetime, zone: ZoneInfo | timezone, overlap: timedelta = DEFAULT_OVERLAP
) -> tuple[datetime, datetime]:
    """Naive site-local wall-clock bounds (minute precision) covering the UTC window [start - overlap, end)."""
    start, end = _aware(start) - overlap, _aware(end)
    if end <= start:
        raise ValueError(f"window end {end.isoformat()} is not after its start {start.isoformat()}")
    offsets = [moment.astimezone(zone).utcoffset() or timedelta(0) for moment in (start, end)]
    low = (start.astimezone(UTC) + min(offsets)).replace(tzinfo=None)
    high = (end.astimezone(UTC) + max(offsets)).replace(tzinfo=None)
    low = low.replace(second=0, microsecond=0)
    if high.second or high.microsecond:
        high = high.replace(second=0, microsecond=0) + timedelta(minutes=1)
    return low, high


def window_clause(
    start: datetime, end: datetime, zone: ZoneInfo | timezone, overlap: timedelta = DEFAULT_OVERLAP
) -> str:
    low, high = local_window(start, end, zone, overlap)
    return f'lastmodified >= "{low.strftime(CQL_TIME)}" AND lastmodified < "{high.strftime(CQL_TIME)}"'


def combine(*clauses: str | None) -> str:
    """AND together the non-empty clauses (wrap user-supplied CQL in parentheses before passing it)."""
    return " AND ".join(c for c in clauses if c and c.strip())
