"""govpub: event-driven publishing for government information disclosure (政务公开).

Shared runtime glue lives here: settings, the bus transports, the state store,
logging and the ``govpub`` command line. Importing this package does no work.
"""

__version__ = "0.1.0"
