"""HTTP API: thin routes that call the job service."""
