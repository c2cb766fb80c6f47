"""A customer's runs, apart from the indexing itself (``tenant_rag.pipeline``): what a run is asked to do, one at a
time, how it is reported while it works and recorded when it ends, and how the next run heals what a killed one left.

``options``: ``RunOptions``. ``lease``: the per-customer run lease (heartbeat + TTL, taken over when its holder is
gone). ``windows``: which pages a run exports. ``progress``: progress lines and ``StageProgress`` in ``state.json``.
``record``: the ``RunRecord`` kept in ``state.json``; ``state_merge``: building it and folding it into the state.
``dry_run``: a dry run's scratch copy of the export and its report. ``housekeeping``: stale staging folders and a
``state.json`` left at ``building`` by a run killed while recording its state.
Nothing here imports Airflow; the operators pass in what only Airflow knows (whether a holder run still waits).
"""
