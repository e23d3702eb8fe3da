"""Scheduled releases: what the Airflow DAGs in ``dags/`` do, as plain library code.

* :mod:`producers.releases.exposure` — the quarterly exposure of typical illegal cases
  (candidates from the document catalog → one batch per domain → approval → emit).
* :mod:`producers.releases.campaigns` — theme-day campaigns from the TOML calendar
  (preview T−7, day T, recap T+3; each phase emitted once).
* :mod:`producers.releases.publishing` — the one publisher every release uses (where the
  compliance gate plugs in) and the catalog catch-up.
* :mod:`producers.releases.log` — the release log ``govpub status`` shows.
* :mod:`producers.releases.dag_tasks` — one function per Airflow task.

Nothing here imports Airflow: everything is tested without it, and DAG files import
it only inside their tasks.
"""
