"""Bringing things in from spreadsheets (CSV, JSON) with a dry run, idempotent and resumable; exporting the
same shape back."""
