"""Development tools and stand-ins, kept out of the domain package ``tenant_rag``.

- ``confluence_server``: a local Confluence-compatible server (REST v2 + v1/CQL) with the sample sites;
- ``fake_gemini_server``: a local stand-in for the Gemini ``batchEmbedContents`` endpoint (its wire format and
  vectors: ``fake_gemini_protocol``);
- ``demo``: the main job on embedded defaults (``make demo``);
- ``airflow_ui`` / ``airflow_ui_config``: a local Airflow instance (``make ui``, ``make airflow ARGS=...``).

Production code never imports this package.
"""
