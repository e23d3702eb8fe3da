#!/bin/sh
# govpub's own PostgreSQL role and database, beside Airflow's, in the postgres service of
# docker-compose.yml. The official image runs this once, when the postgres-data volume is
# first initialised (for an existing volume, run the same two statements by hand as the
# airflow superuser: see the README's "Production: docker-compose.yml").
#
# The database uses the C collation: govpub declares its text columns COLLATE "C" anyway,
# so that ordering never depends on the server's locale.
set -eu
: "${GOVPUB_DB_PASSWORD:?set GOVPUB_DB_PASSWORD}"
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  --set=govpub_password="$GOVPUB_DB_PASSWORD" <<'SQL'
CREATE ROLE govpub LOGIN PASSWORD :'govpub_password';
CREATE DATABASE govpub OWNER govpub ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0;
SQL
