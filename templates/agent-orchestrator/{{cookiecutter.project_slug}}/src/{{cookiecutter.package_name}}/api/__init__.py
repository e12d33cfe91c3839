"""The HTTP API: thin routes that validate, then call the service."""
