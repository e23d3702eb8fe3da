"""govpub: event-driven publishing for government information disclosure (政务公开).

The core lives here: settings, the bus transports, the state store, the exception tree,
the delivery record, the protection engine, logging. The application shell — the
``govpub`` command line, the demo, the HTTP server — is :mod:`govpub.app`, which nothing
else imports. Importing this package does no work.
"""

__version__ = "0.1.0"
