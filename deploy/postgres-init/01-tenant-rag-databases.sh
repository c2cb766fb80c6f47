#!/usr/bin/env bash
# Runs once, on the first start of the pgvector/pgvector container (docker-entrypoint-initdb.d).
# Two databases with their own owners: Airflow's metadata and the tenant vector store. The vector-store owner
# may create roles (one login reader role per customer, whose password the code derives from
# TENANT_RAG_TENANT_ROLE_SECRET) but is not a superuser.
set -euo pipefail

: "${AIRFLOW_DB_USER:?}" "${AIRFLOW_DB_PASSWORD:?}" "${AIRFLOW_DB_NAME:?}"
: "${TENANT_RAG_DB_USER:?}" "${TENANT_RAG_DB_PASSWORD:?}" "${TENANT_RAG_DB_NAME:?}"

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
  -v airflow_user="$AIRFLOW_DB_USER" -v airflow_password="$AIRFLOW_DB_PASSWORD" -v airflow_db="$AIRFLOW_DB_NAME" \
  -v rag_user="$TENANT_RAG_DB_USER" -v rag_password="$TENANT_RAG_DB_PASSWORD" -v rag_db="$TENANT_RAG_DB_NAME" <<'SQL'
CREATE ROLE :"airflow_user" LOGIN PASSWORD :'airflow_password';
CREATE DATABASE :"airflow_db" OWNER :"airflow_user";
CREATE ROLE :"rag_user" LOGIN CREATEROLE PASSWORD :'rag_password';
CREATE DATABASE :"rag_db" OWNER :"rag_user";
REVOKE ALL ON DATABASE :"airflow_db" FROM PUBLIC;
\connect :"rag_db"
CREATE EXTENSION IF NOT EXISTS vector;
SQL
