"""Maintenance scripts for the course repository (run as ``python -m tools.<name>``)."""
