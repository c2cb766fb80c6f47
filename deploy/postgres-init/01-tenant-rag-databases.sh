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
-- What no tenant session needs (tenant_rag/store/hardening.py does the same when its admin is a superuser; the
-- vector-store owner is not one here): temporary tables, large objects, notifications, advisory locks.
REVOKE TEMPORARY ON DATABASE :"rag_db" FROM PUBLIC;
DO $$
DECLARE f regprocedure;
BEGIN
  FOR f IN SELECT p.oid::regprocedure FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
           WHERE n.nspname = 'pg_catalog'
             AND p.proname ~ '^(lo_(creat|create|from_bytea|import|put)|pg_notify|pg_(try_)?advisory_(xact_)?lock(_shared)?)$'
  LOOP
    EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', f);
  END LOOP;
END $$;
GRANT pg_use_reserved_connections TO :"rag_user";
SQL
