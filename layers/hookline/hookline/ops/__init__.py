"""Operator tools (`python -m hookline ...`): cli, doctor, status, preview, rules report.

No handler imports this room."""
