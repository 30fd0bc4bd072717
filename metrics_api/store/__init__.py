"""The metrics store: the Prometheus HTTP API client and how to reach and authenticate to it."""
