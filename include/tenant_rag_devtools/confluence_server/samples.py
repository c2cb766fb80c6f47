"""The demo's sample content: two customers with clearly different vocabularies.

- ``acme`` (a payments software company): spaces ENG (API guidelines, code review, releases) and OPS
  (deployment runbook, failover, on-call, incidents);
- ``globex`` (a home-appliance maker): spaces HR (travel policy, onboarding, leave, and pay pages only the group
  ``globex-people-leads`` may read) and SUPPORT (escalation, refunds, warranty).

``SAMPLE_QUESTIONS`` pairs one question per customer with the page that answers it, so the demo can show each
customer gets its own answer and never the other's pages.
"""

from __future__ import annotations

from datetime import datetime

from tenant_rag_devtools.confluence_server import samples_acme, samples_globex
from tenant_rag_devtools.confluence_server.server import FakeConfluence

SAMPLE_CUSTOMERS: dict[str, list[str]] = {"acme": ["ENG", "OPS"], "globex": ["HR", "SUPPORT"]}
SAMPLE_QUESTIONS: dict[str, list[tuple[str, str]]] = {
    "acme": [
        ("How do I roll back a failed canary deployment?", "Deployment Runbook"),
        ("Which HTTP status code do we return when an idempotency key is reused?", "API Design Guidelines"),
    ],
    "globex": [
        ("What is the daily meal allowance when travelling outside Europe?", "Travel and Expense Policy"),
        ("How long is the warranty on a fridge compressor?", "Warranty Claims"),
    ],
}
_CONTENT = {"acme": samples_acme, "globex": samples_globex}


def populate_customer(fake: FakeConfluence, customer: str, *, modified_at: datetime | None = None) -> dict[str, str]:
    """Add one sample customer's spaces, users, groups and page tree, and its pages' read restrictions; returns
    title -> page id."""
    module = _CONTENT[customer]
    for key, name in module.SPACES.items():
        fake.add_space(key, name)
    for user_id, name in module.USERS.items():
        fake.add_user(user_id, name)
    ids: dict[str, str] = {}
    for space, title, parent, labels, storage in module.PAGES:
        parent_id = ids[parent] if parent else None
        ids[title] = fake.add_page(space, title, storage, parent_id=parent_id, labels=labels, modified_at=modified_at)
    for group, members in module.GROUPS.items():
        fake.permissions.add_group(group, members)
    for title, (users, groups) in module.RESTRICTED.items():
        fake.permissions.set_read_restriction(ids[title], users=users, groups=groups)
    return ids


def populate_demo(fake: FakeConfluence) -> dict[str, dict[str, str]]:
    return {customer: populate_customer(fake, customer) for customer in SAMPLE_CUSTOMERS}
