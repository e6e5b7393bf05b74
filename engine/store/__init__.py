"""The durable event store (SQLite or any SQLAlchemy URL)."""
