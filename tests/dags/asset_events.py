"""What Airflow's metadata database holds of a customer's index Asset, for the DAG tests."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from tenant_rag_airflow.constants import asset_uri


def asset_events(customer_id: str) -> list[dict[str, Any]]:
    """The extras of every event of the customer's index Asset, oldest first."""
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session

    with create_session() as session:
        events = session.scalars(
            select(AssetEvent)
            .join(AssetModel, AssetModel.id == AssetEvent.asset_id)
            .where(AssetModel.uri == asset_uri(customer_id))
            .order_by(AssetEvent.id)
        ).all()
        return [dict(event.extra or {}) for event in events]
