# syntax=docker/dockerfile:1
# Images for docker-compose.yml:
#   target govpub   — the govpub CLI: consumers (`govpub consume --channel NAME`), ingest, status
#   target airflow  — Apache Airflow 3 with govpub installed and the DAGs of dags/ baked in
# Both run as uid 50000, gid 0 (the official Airflow image's user), so that they share
# volumes without permission trouble. The images default to a SQLite state store in
# /var/lib/govpub (one host); docker-compose.yml sets GOVPUB_STORE to its PostgreSQL database.
ARG PYTHON_VERSION=3.11
ARG AIRFLOW_VERSION=3.3.2

FROM python:${PYTHON_VERSION}-slim-bookworm AS wheel
WORKDIR /src
COPY pyproject.toml README.md ./
COPY govpub ./govpub
COPY schemas ./schemas
COPY producers ./producers
COPY consumers ./consumers
COPY channels ./channels
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

FROM python:${PYTHON_VERSION}-slim-bookworm AS govpub
ENV PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    GOVPUB_STORE=/var/lib/govpub/state.db \
    GOVPUB_OUTPUT_DIR=/srv/govpub/public
RUN useradd --uid 50000 --gid 0 --home-dir /var/lib/govpub --no-create-home --shell /usr/sbin/nologin govpub \
 && mkdir -p /var/lib/govpub /srv/govpub/public \
 && chown 50000:0 /var/lib/govpub /srv/govpub/public \
 && chmod 2775 /var/lib/govpub /srv/govpub/public
COPY --from=wheel /wheels /wheels
RUN pip install --no-cache-dir /wheels/govpub-*.whl && rm -rf /wheels
USER 50000:0
WORKDIR /var/lib/govpub
# Volumes are named in docker-compose.yml; declared here so the image's ownership seeds them.
VOLUME ["/var/lib/govpub", "/srv/govpub/public"]
CMD ["govpub", "status"]

FROM apache/airflow:${AIRFLOW_VERSION}-python${PYTHON_VERSION} AS airflow
ARG AIRFLOW_VERSION
USER root
# /opt/airflow/auth seeds the airflow-auth volume (the simple auth manager's passwords).
RUN mkdir -p /var/lib/govpub /opt/airflow/auth \
 && chown 50000:0 /var/lib/govpub /opt/airflow/auth \
 && chmod 2775 /var/lib/govpub && chmod 2770 /opt/airflow/auth
USER airflow
COPY --from=wheel /wheels /wheels
# Pinning apache-airflow keeps pip from moving the image's Airflow while adding govpub.
RUN pip install --no-cache-dir "apache-airflow==${AIRFLOW_VERSION}" /wheels/govpub-*.whl
COPY --chown=airflow:root dags /opt/airflow/dags
ENV AIRFLOW__CORE__DAGS_FOLDER=/opt/airflow/dags \
    GOVPUB_STORE=/var/lib/govpub/state.db
