"""Storage: SQLAlchemy Core tables, the unit of work, queries and migrations."""
