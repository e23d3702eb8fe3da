"""The application shell: what wires the layers below into programs.

The ``govpub`` command line (:mod:`govpub.app.cli`), the demo, ``govpub status``,
``govpub serve``, the HTTP server that mounts the ingest API and the routes channels
contribute (:mod:`govpub.app.server`), the channel service that builds runners from the
registry (:mod:`govpub.app.channels`), and the release steps that need channels
(:mod:`govpub.app.releases`, with the Airflow task functions in
:mod:`govpub.app.dag_tasks`), and the freshness check (:mod:`govpub.app.freshness`).
Nothing below this package imports it.
"""
