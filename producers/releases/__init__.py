"""Scheduled releases: what the Airflow DAGs in ``dags/`` do, as plain library code.

* :mod:`producers.releases.exposure` — the quarterly exposure of typical illegal cases
  (candidates from the document catalog → one batch per domain → approval → emit).
* :mod:`producers.releases.approval` — who may approve a batch (the domain's approvers,
  never whoever triggered the run), the checks of an answer, auto-approval only under
  ``GOVPUB_ALLOW_AUTO_APPROVE``.
* :mod:`producers.releases.campaigns` — theme-day campaigns from the TOML calendar
  (preview T−7, day T, recap T+3; each phase emitted once).
* :mod:`producers.releases.publishing` — the one publisher every release uses (where the
  compliance gate plugs in) and the catalog catch-up.
* :mod:`producers.releases.log` — the release log and the decisions on record, which
  ``govpub status`` shows.
* :mod:`producers.releases.runnotes` — the outcome written on the Airflow run (REST API).
* :mod:`producers.releases.dag_tasks` — one function per Airflow task.

Nothing here imports Airflow at module level: everything is tested without it, and
``dag_tasks`` imports it only inside the functions that run in a task.
"""
