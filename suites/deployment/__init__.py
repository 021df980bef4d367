"""Deployment and serving checks (DEP-01..DEP-08)."""
