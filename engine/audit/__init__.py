"""Audits of unit records: records to unit-level events, and per-unit summaries."""
