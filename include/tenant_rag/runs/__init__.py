"""What keeps a customer's runs one at a time and lets the next run heal what a killed one left behind.

``lease``: the per-customer run lease (heartbeat + TTL, taken over when its holder is gone). ``housekeeping``:
stale staging folders and a ``state.json`` left at ``building`` by a run killed while recording its state.
Nothing here imports Airflow; the operators pass in what only Airflow knows (whether a holder run still waits).
"""
