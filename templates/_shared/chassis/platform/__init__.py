"""The service chassis: monitoring, rollback, secrets and security, shared by every goldenpath
service. Generated from the goldenpath kit; fix it there so every service gets the fix."""
