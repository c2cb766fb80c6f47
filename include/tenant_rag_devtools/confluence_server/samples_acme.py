"""Sample content of the demo customer "acme" (a software company): spaces ENG and OPS.

Original text written for this project. Each entry is (space, title, parent title or None, labels, storage).
"""

from __future__ import annotations

from tenant_rag_devtools.confluence_server.sample_storage import (
    code,
    emoticon,
    expand,
    page_link,
    panel,
    status,
    table,
    tasks,
    two_columns,
    user,
)

PRIYA = "acme:5f1e0c2a-priya"
MARCO = "acme:7a9b3d10-marco"
USERS = {PRIYA: "Priya Raman", MARCO: "Marco Lindqvist"}
GROUPS: dict[str, tuple[str, ...]] = {}  # every acme page is readable by every acme user
RESTRICTED: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {}
SPACES = {"ENG": "Acme Engineering", "OPS": "Acme Operations"}

ENG_HOME = (
    "<h1>Welcome to Acme Engineering</h1>"
    "<p>This space holds how the platform team designs, reviews and ships the Acme payments platform. "
    "Start with the "
    + page_link("API Design Guidelines")
    + " and the "
    + page_link("Code Review Checklist")
    + ".</p>"
    + two_columns(
        "<h2>Teams</h2><ul><li><strong>Payments core</strong>: ledger, settlement, idempotency keys</li>"
        "<li><strong>Edge</strong>: the public REST gateway and rate limiting</li>"
        "<li><strong>Developer experience</strong>: CI pipelines and local tooling</li></ul>",
        "<h2>Contacts</h2><p>Engineering manager: " + user(PRIYA) + "<br />Staff engineer: " + user(MARCO) + "</p>",
    )
    + panel(
        "info",
        "<p>Production changes follow the "
        + page_link("Deployment Runbook", space="OPS")
        + " owned by the operations space.</p>",
    )
)

API_GUIDELINES = (
    "<h1>API Design Guidelines</h1>"
    "<p>Every public endpoint of the payments gateway is a <em>resource-oriented</em> JSON API. Breaking changes "
    "require a new major version in the URL path, for example <code>/v2/charges</code>.</p>"
    "<h2>Naming</h2><ul><li>Plural nouns for collections: <code>/charges</code>, <code>/refunds</code></li>"
    "<li>Snake case for JSON fields: <code>created_at</code>, <code>amount_minor</code></li>"
    "<li>Amounts are integers in minor units with an ISO 4217 <code>currency</code>"
    "<ul><li>never floats</li><li>never formatted strings</li></ul></li></ul>"
    "<h2>Status codes</h2>"
    + table(
        ["Situation", "Status", "Retry?"],
        ["Created a resource", "201", "no"],
        ["Validation failed", "422", "no, fix the request"],
        ["Idempotency key reused with a different body", "409", "no"],
        ["Rate limit exceeded", "429", "yes, after <code>Retry-After</code>"],
        ["Upstream bank timeout", "503", "yes, with exponential backoff"],
    )
    + "<h2>Idempotency</h2><p>Clients send an <code>Idempotency-Key</code> header on every POST. The gateway "
    "stores the first response for 24 hours and replays it for repeated keys.</p>"
    + code(
        "json",
        '{\n  "error": {\n    "type": "validation_error",\n    "field": "amount_minor",\n'
        '    "message": "must be a positive integer"\n  }\n}',
        title="Error body",
    )
    + panel("tip", "<p>Paginate with opaque cursors (<code>starting_after</code>), never with page numbers.</p>")
)

CODE_REVIEW = (
    "<h1>Code Review Checklist</h1><p>Current status: " + status("Adopted", "Green") + "</p>"
    "<p>Reviewers approve within one working day. Authors keep pull requests under 400 changed lines.</p>"
    + tasks(
        (True, "Tests cover the new branch conditions"),
        (True, "Database migrations are backwards compatible for one release"),
        (False, "Feature flag named after the ticket, e.g. <code>PAY-1423-split-settlement</code>"),
        (False, "Metrics and a dashboard panel exist for the new code path"),
    )
    + expand(
        "Why one working day?",
        "<p>Long-lived branches drift from main and turn merges into archaeology. Fast reviews keep "
        "the trunk releasable for the " + page_link("Release Train") + ".</p>",
    )
)

SERVICE_CATALOGUE = (
    "<h1>Service Catalogue</h1>"
    + table(
        ["Service", "Language", "Owner", "Tier"],
        ["payments-gateway", "Go", user(MARCO), "Tier 1"],
        ["ledger", "Kotlin", user(PRIYA), "Tier 1"],
        ["notifier", "Python", user(PRIYA), "Tier 2"],
        ["statement-renderer", "TypeScript", user(MARCO), "Tier 3"],
    )
    + "<p>Tier 1 services page the on-call engineer at any hour; see the "
    + page_link("On-call Rotation", space="OPS")
    + ".</p>"
)

RELEASE_TRAIN = (
    "<h1>Release Train</h1><p>The train leaves every Tuesday at 10:00 UTC " + emoticon("tick") + "</p>"
    "<ol><li><p>Monday 16:00: release branch <code>release/YYYY-WW</code> is cut from main.</p></li>"
    "<li><p>Monday evening: the full regression suite runs against staging.</p></li>"
    "<li><p>Tuesday 10:00: the release manager starts a canary as described in the "
    + page_link("Deployment Runbook", space="OPS", text="deployment runbook")
    + ".</p></li></ol>"
    + panel(
        "warning",
        "<p>No releases on the last two business days of a month: settlement volume peaks.</p>",
        title="Month-end freeze",
    )
)

LOCAL_SETUP = (
    "<h1>Local Development Setup</h1><p>You need Docker, Go 1.22 and the <code>acme</code> CLI.</p>"
    + code(
        "bash",
        "git clone git@git.acme.example:payments/platform.git\ncd platform\n"
        "acme dev up --services ledger,payments-gateway\nacme dev seed --merchants 20",
    )
    + panel("note", "<p>The seed command creates twenty test merchants with sandbox card numbers only.</p>")
    + "<h2>Troubleshooting</h2>"
    + "<p>If the ledger container exits with <code>migration lock held</code>, clear the lock:</p>"
    + code("sql", "DELETE FROM schema_lock WHERE locked_by = 'local';")
)

OPS_HOME = (
    "<h1>Acme Operations</h1><p>Runbooks and incident process for production. If production is on fire, "
    "go straight to "
    + page_link("Incident Severity Levels")
    + ".</p>"
    + panel("info", "<p>The status page is updated by the incident commander, never by the responder.</p>")
)

DEPLOYMENT_RUNBOOK = (
    "<h1>Deployment Runbook</h1>"
    "<p>All services deploy through Argo Rollouts with a <strong>canary</strong> strategy.</p>"
    + table(
        ["Environment", "Cluster", "Canary steps"],
        ["staging", "k8s-stg-eu1", "50% then 100%"],
        ["production", "k8s-prd-eu1, k8s-prd-us1", "5%, 25%, 50%, 100% with 10 minute pauses"],
    )
    + "<h2>Start a canary</h2>"
    + code(
        "bash",
        "kubectl argo rollouts set image payments-gateway \\\n"
        "  gateway=registry.acme.example/payments-gateway:2024.19.1 -n payments\n"
        "kubectl argo rollouts get rollout payments-gateway -n payments --watch",
    )
    + "<h2>Roll back a failed canary</h2>"
    "<p>Abort as soon as the error rate of the canary exceeds 0.5% for five minutes or p99 latency doubles.</p>"
    + code(
        "bash",
        "kubectl argo rollouts abort payments-gateway -n payments\n"
        "kubectl argo rollouts undo payments-gateway -n payments",
    )
    + panel(
        "warning",
        "<p>Never roll back a release that ran a destructive database migration; follow the "
        + page_link("Database Failover Procedure")
        + " instead and page the ledger owner.</p>",
    )
)

DB_FAILOVER = (
    "<h1>Database Failover Procedure</h1><p>The ledger runs on PostgreSQL with one synchronous replica per "
    "region. Failover is manual so that a network partition cannot promote two primaries.</p>"
    "<ol><li>Confirm the primary is unreachable from two availability zones.</li>"
    "<li>Fence the old primary: <code>patronictl pause ledger</code>.</li>"
    "<li>Promote the replica and check replication lag is zero.</li></ol>"
    + code("sql", "SELECT pg_is_in_recovery(), now() - pg_last_xact_replay_timestamp() AS lag;")
    + panel("note", "<p>Announce the failover in <code>#inc-ledger</code> before you promote.</p>")
)

ONCALL = (
    "<h1>On-call Rotation</h1><p>Primary and secondary on-call change every Monday at 09:00 local time.</p>"
    + table(["Week", "Primary", "Secondary"], ["19", user(PRIYA), user(MARCO)], ["20", user(MARCO), user(PRIYA)])
    + "<h2>Paging rules</h2><ul><li>Tier 1 alerts page immediately, day and night.</li>"
    "<li>Tier 2 alerts page during business hours and open a ticket otherwise.</li></ul>"
    + expand(
        "Handover checklist",
        tasks(
            (False, "Open incidents reviewed with the next primary"),
            (False, "Silenced alerts listed with their expiry"),
        ),
    )
)

SEVERITY = (
    "<h1>Incident Severity Levels</h1>"
    "<table><tbody><tr><th><p>Level</p></th><th><p>Definition</p></th><th><p>Response</p></th></tr>"
    "<tr><td><p>" + status("SEV1", "Red") + "</p></td><td><p>Payments failing for all merchants</p></td>"
    '<td rowspan="2"><p>Incident commander within 15 minutes, status page updated every 30 minutes</p></td></tr>'
    "<tr><td><p>" + status("SEV2", "Yellow") + "</p></td><td><p>One region or one payment method down</p></td></tr>"
    "<tr><td><p>" + status("SEV3", "Blue") + '</p></td><td colspan="2"><p>Degraded latency, no failed payments: '
    "next business day</p></td></tr></tbody></table>"
    "<p>Every SEV1 and SEV2 gets a written review using the " + page_link("Postmortem Template") + ".</p>"
)

POSTMORTEM = (
    "<h1>Postmortem Template</h1><h2>Summary</h2><p>Two sentences: what broke and for how long.</p>"
    "<h2>Timeline</h2><p>UTC timestamps, from first alert to full recovery.</p>"
    "<h2>Contributing factors</h2><p>Blameless: describe systems and decisions, not people.</p>"
    "<h2>Action items</h2>"
    + tasks((False, "Owner and due date for every item"), (False, "Link each item to a ticket in the PAY project"))
)

PAGES = [
    ("ENG", "Engineering Handbook", None, ["handbook"], ENG_HOME),
    ("ENG", "API Design Guidelines", "Engineering Handbook", ["api", "standards"], API_GUIDELINES),
    ("ENG", "Code Review Checklist", "Engineering Handbook", ["standards"], CODE_REVIEW),
    ("ENG", "Service Catalogue", "Engineering Handbook", ["services"], SERVICE_CATALOGUE),
    ("ENG", "Release Train", "Engineering Handbook", ["release"], RELEASE_TRAIN),
    ("ENG", "Local Development Setup", "Engineering Handbook", ["onboarding"], LOCAL_SETUP),
    ("OPS", "Operations Home", None, [], OPS_HOME),
    ("OPS", "Deployment Runbook", "Operations Home", ["runbook", "deploy"], DEPLOYMENT_RUNBOOK),
    ("OPS", "Database Failover Procedure", "Deployment Runbook", ["runbook", "database"], DB_FAILOVER),
    ("OPS", "On-call Rotation", "Operations Home", ["oncall"], ONCALL),
    ("OPS", "Incident Severity Levels", "Operations Home", ["incident"], SEVERITY),
    ("OPS", "Postmortem Template", "Incident Severity Levels", ["incident", "template"], POSTMORTEM),
]
