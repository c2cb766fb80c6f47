"""HTML of the status pages: one per customer and an admin overview. Plain server-rendered HTML + inline SVG.

Every number the page shows carries ``data-field`` and ``data-value`` attributes holding the raw value, so a
browser test (or a scraper) can compare the page with the JSON API.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from html import escape
from typing import Any

from tenant_rag.api.charts import bar_chart, line_chart
from tenant_rag.api.models import CustomerSummary, StatusResponse
from tenant_rag.runs.record import RunSummary

STYLE = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1f2933;background:#f5f7fa}
header{background:#243b53;color:#fff;padding:16px 28px}header h1{margin:0;font-size:22px}
header small{color:#bcccdc;font-weight:normal;margin-left:8px}main{padding:20px 28px;max-width:1400px}
.badge{display:inline-block;padding:2px 10px;border-radius:10px;font-weight:600;margin-left:12px;font-size:13px}
.s-ready,.s-success{background:#c6f7e2;color:#014d40}.s-building{background:#fff3c4;color:#8d2b0b}
.s-failed{background:#ffe3e3;color:#610316}.s-never_built,.s-deleted{background:#d9e2ec;color:#243b53}
.cards{display:flex;flex-wrap:wrap;gap:12px;margin-bottom:18px}
.card{background:#fff;border-radius:8px;padding:10px 16px;min-width:150px;box-shadow:0 1px 2px #0002}
.card .label{color:#627d98;font-size:12px;text-transform:uppercase;letter-spacing:.04em}
.card .value{font-size:20px;font-weight:600}.charts{display:flex;flex-wrap:wrap;gap:16px}
.chart{background:#fff;border-radius:8px;box-shadow:0 1px 2px #0002}.chart-title{font-weight:600;fill:#243b53}
.axis{stroke:#9fb3c8}.grid{stroke:#e4e7eb;stroke-dasharray:3 3}.tick{fill:#627d98;font-size:11px}
.line{fill:none;stroke:#2680c2;stroke-width:2}.dot{fill:#2680c2}.bar{fill:#3ebd93}.muted{fill:#9fb3c8;color:#829ab1}
table{border-collapse:collapse;background:#fff;box-shadow:0 1px 2px #0002;border-radius:8px;margin-top:8px}
th,td{padding:6px 10px;border-bottom:1px solid #e4e7eb;text-align:left;vertical-align:top;font-size:13px}
th{background:#f0f4f8;color:#486581}td.num{text-align:right;font-variant-numeric:tabular-nums}
.error{background:#ffe3e3;color:#610316;padding:8px 12px;border-radius:6px;white-space:pre-wrap}
footer{color:#829ab1;padding:8px 28px 24px;font-size:12px}a{color:#2680c2}
"""


def _when(value: datetime | str | None) -> str:
    if value is None:
        return "—"
    if isinstance(value, str):
        return value
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _bytes(value: int | None) -> str:
    if value is None:
        return "—"
    size = float(value)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:,.0f} {unit}" if unit == "B" else f"{size:,.1f} {unit}"
        size /= 1024
    return f"{value} B"


def _card(label: str, field: str, value: Any, shown: str | None = None) -> str:
    raw = "" if value is None else str(value).lower() if isinstance(value, bool) else str(value)
    text = shown if shown is not None else ("—" if value is None else f"{value:,}" if isinstance(value, int) else raw)
    return (
        f'<div class="card"><div class="label">{escape(label)}</div>'
        f'<div class="value" data-field="{escape(field)}" data-value="{escape(raw)}">{escape(text)}</div></div>'
    )


def _permission_cards(status: Any) -> list[str]:
    """Page permissions: the mode, restricted and unknown pages, and when the last run read them."""
    perms = status.permissions
    if perms is None:
        return []
    synced = perms.synced_at
    return [
        _card("permissions", "permissions_mode", perms.mode),
        _card("restricted pages", "pages_restricted", perms.pages_restricted),
        _card("pages with unknown permissions", "pages_permissions_unknown", perms.pages_permissions_unknown),
        _card("permissions synced", "permissions_synced_at", synced.isoformat() if synced else None, _when(synced)),
    ]


def _page(title: str, heading: str, body: str) -> str:
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
        f'<meta name="viewport" content="width=device-width,initial-scale=1"><style>{STYLE}</style></head>'
        f"<body><header><h1>{heading}</h1></header><main>{body}</main>"
        f"<footer>tenant-rag status · generated {now}</footer></body></html>"
    )


def _run_stats_text(run: RunSummary) -> str:
    """The run's non-zero counts and its duration."""
    items = [
        f"{key}={value:,}"
        for key, value in run.counts.model_dump().items()
        if isinstance(value, int) and not isinstance(value, bool) and value and key != "generation"
    ]
    if run.duration_s is not None:
        items.append(f"duration_s={run.duration_s:,.2f}")
    return ", ".join(items[:14]) or "—"


def _runs_table(runs: Sequence[RunSummary]) -> str:
    if not runs:
        return '<p class="muted">no runs recorded yet</p>'
    rows = []
    for run in reversed(runs):
        rows.append(
            f'<tr data-run-id="{escape(run.run_id)}"><td>{escape(run.run_id)}</td>'
            f'<td><span class="badge s-{escape(run.status)}">{escape(run.status)}</span></td>'
            f"<td>{escape(_when(run.finished_at))}</td><td>{escape(_run_stats_text(run))}</td></tr>"
        )
    return (
        '<table id="runs"><thead><tr><th>run</th><th>status</th><th>finished</th><th>stats</th></tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def customer_page(
    status: StatusResponse,
    latency: Sequence[tuple[datetime, float]],
    pages: Sequence[tuple[datetime, float]],
    *,
    json_url: str,
) -> str:
    name = status.display_name or status.customer_id
    heading = (
        f"{escape(name)}<small>{escape(status.customer_id)}</small>"
        f'<span class="badge s-{escape(status.status)}" data-field="status" data-value="{escape(status.status)}">'
        f"{escape(status.status)}</span>"
    )
    cards = "".join(
        [
            _card(
                "ready for queries",
                "is_ready_for_queries",
                status.is_ready_for_queries,
                "yes" if status.is_ready_for_queries else "no",
            ),
            _card("indexed pages", "total_indexed_documents", status.total_indexed_documents),
            _card("chunks", "total_indexed_chunks", status.total_indexed_chunks),
            _card("index pages (store)", "index_pages", status.index.pages),
            _card("index chunks (store)", "index_chunks", status.index.chunks),
            _card("index size", "index_bytes", status.index.bytes, _bytes(status.index.bytes)),
            *_permission_cards(status),
            _card(
                "last success",
                "last_success_time",
                status.last_success_time.isoformat() if status.last_success_time else None,
                _when(status.last_success_time),
            ),
            _card(
                "embedding model",
                "embedding_model",
                status.embedding_model,
                f"{status.embedding_model or '—'} ({status.embedding_dimensions or '?'} d)",
            ),
            _card("queries plotted", "latency_points", len(latency)),
        ]
    )
    parts = [f'<section class="cards">{cards}</section>']
    if status.progress:
        p = status.progress
        parts.append(
            f'<p data-field="progress">running stage <b>{escape(str(p.get("stage")))}</b>: '
            f"{p.get('done', 0):,} / {p.get('total', 0):,}</p>"
        )
    for label, text in (("configuration error", status.config_error), ("last error", status.last_error)):
        if text:
            parts.append(f'<p class="error" data-field="{label.replace(" ", "_")}">{escape(label)}: {escape(text)}</p>')
    parts.append(
        '<section class="charts">'
        + line_chart(latency, title="Query latency", unit="ms", chart_id="latency-chart")
        + line_chart(pages, title="Indexed pages", unit="pages", chart_id="pages-chart")
        + "</section>"
    )
    parts.append(f"<h2>Last runs</h2>{_runs_table(status.run_history)}")
    parts.append(f'<p><a href="{escape(json_url)}">this status as JSON</a> (send the key as X-API-Key)</p>')
    return _page(f"tenant-rag · {name}", heading, "".join(parts))


def admin_page(customers: Sequence[CustomerSummary], *, page_url_of: dict[str, str]) -> str:
    rows = []
    for c in customers:
        rows.append(
            f'<tr data-customer="{escape(c.customer_id)}">'
            f'<td><a href="{escape(page_url_of[c.customer_id])}">{escape(c.customer_id)}</a></td>'
            f"<td>{escape(c.display_name or '—')}</td>"
            f'<td><span class="badge s-{escape(c.status)}" data-field="status" data-value="{escape(c.status)}">'
            f"{escape(c.status)}</span></td>"
            f'<td data-field="is_ready_for_queries" data-value="{str(c.is_ready_for_queries).lower()}">'
            f"{'yes' if c.is_ready_for_queries else 'no'}</td>"
            f'<td class="num" data-field="total_indexed_documents" data-value="{c.total_indexed_documents}">'
            f"{c.total_indexed_documents:,}</td>"
            f'<td class="num" data-field="total_indexed_chunks" data-value="{c.total_indexed_chunks}">'
            f"{c.total_indexed_chunks:,}</td>"
            f"<td>{escape(_when(c.last_success_time))}</td>"
            f"<td>{escape((c.config_error or '')[:160])}</td></tr>"
        )
    table = (
        '<table id="customers"><thead><tr><th>customer</th><th>name</th><th>status</th><th>ready</th>'
        "<th>pages</th><th>chunks</th><th>last success</th><th>config error</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )
    ready = sum(1 for c in customers if c.is_ready_for_queries)
    cards = (
        _card("customers", "customers", len(customers))
        + _card("ready", "ready", ready)
        + _card("indexed pages", "total_pages", sum(c.total_indexed_documents for c in customers))
    )
    chart = bar_chart(
        [(c.customer_id, float(c.total_indexed_documents)) for c in customers][:40],
        title="Indexed pages per customer",
        unit="pages",
        chart_id="pages-per-customer",
    )
    body = f'<section class="cards">{cards}</section><section class="charts">{chart}</section>{table}'
    return _page("tenant-rag · all customers", "tenant-rag <small>all customers</small>", body)


def login_page(*, audience: str, message: str | None) -> str:
    """The sign-in form of a status page: a password field POSTed (form body, never the URL) to ``login``.

    ``audience`` names what the key is for (``acme`` or ``all customers``); the key itself is never shown back.
    """
    note = f'<p class="error" data-field="login_error">{escape(message)}</p>' if message else ""
    form = (
        '<form method="post" action="login" class="card" id="login">'
        f'<p><label for="key">API key for <b>{escape(audience)}</b></label></p>'
        '<p><input type="password" id="key" name="key" autocomplete="current-password" required '
        'size="48" spellcheck="false"></p><p><button type="submit">Show status</button></p>'
        "<p><small>The key is kept in an HttpOnly cookie for this site for 8 hours. Keys are never accepted in "
        "the address (they would end up in logs and history); programs send the X-API-Key header.</small></p>"
        "</form>"
    )
    return _page("tenant-rag · sign in", f"tenant-rag <small>{escape(audience)}</small>", note + form)
