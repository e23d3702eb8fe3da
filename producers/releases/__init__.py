"""Scheduled releases: what the Airflow DAGs in ``dags/`` do, as plain library code.

* :mod:`producers.releases.exposure` — the quarterly exposure of typical illegal cases
  (candidates from the document catalog → one batch per domain → approval → emit).
* :mod:`producers.releases.approval` — who may approve a batch (the domain's approvers,
  never whoever triggered the run), the checks of an answer, auto-approval only under
  ``GOVPUB_ALLOW_AUTO_APPROVE``.
* :mod:`producers.releases.campaigns` — theme-day campaigns from the TOML calendar
  (preview T−7, day T, recap T+3; each phase emitted once).
* :mod:`producers.releases.log` — the release log and the decisions on record, which
  ``govpub status`` shows.
* :mod:`producers.releases.runnotes` — the outcome written on the Airflow run (REST API).

Every release publishes through :func:`producers.factory.open_publisher` (``source``
``dag``), so the compliance gate that ingest applies plugs in there once. What needs the
``catalog`` channel — the catalog catch-up, and handing the document catalog to the
exposure release — is in the shell, :mod:`govpub.app.releases`; the Airflow tasks'
functions are :mod:`govpub.app.dag_tasks`. Nothing here imports Airflow.
"""
