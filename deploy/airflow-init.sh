#!/usr/bin/env bash
# The one-shot init service of docker-compose.yaml: migrate Airflow's metadata database, then create (or replace)
# the three Connections the code uses and the shared `embedding_api` pool. Idempotent: safe on every `up`.
set -euo pipefail

: "${TENANT_RAG_DB_HOST:?}" "${TENANT_RAG_DB_PORT:?}" "${TENANT_RAG_DB_USER:?}" "${TENANT_RAG_DB_PASSWORD:?}"
: "${TENANT_RAG_DB_NAME:?}" "${EMBEDDING_API_POOL_SLOTS:?}"

mkdir -p "${TENANT_RAG_STAGING_DIR:?}" "${TENANT_RAG_CUSTOMERS_DIR:?}"
airflow db migrate

put_connection() {  # put_connection CONN_ID ARGS...: delete then add, so a changed secret is picked up
  local conn_id="$1"
  shift
  airflow connections delete "$conn_id" >/dev/null 2>&1 || true
  airflow connections add "$conn_id" "$@"
}

put_connection tenant_rag_db --conn-type postgres \
  --conn-host "$TENANT_RAG_DB_HOST" --conn-port "$TENANT_RAG_DB_PORT" --conn-schema "$TENANT_RAG_DB_NAME" \
  --conn-login "$TENANT_RAG_DB_USER" --conn-password "$TENANT_RAG_DB_PASSWORD"
put_connection confluence_default --conn-type confluence \
  --conn-host "${CONFLUENCE_URL:-}" --conn-login "${CONFLUENCE_USER:-}" --conn-password "${CONFLUENCE_API_TOKEN:-}"
put_connection google_genai_default --conn-type google_genai \
  --conn-password "${GOOGLE_API_KEY:-}"

airflow pools set embedding_api "$EMBEDDING_API_POOL_SLOTS" "embedding API calls shared by every customer"
echo "tenant-rag init: database migrated, connections and pool ready"
