"""Alembic environment: runs against the connection `paymux.store.migrate` hands in."""

from alembic import context

from paymux.store.tables import metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection, target_metadata=metadata, render_as_batch=True, compare_type=True
)
with context.begin_transaction():
    context.run_migrations()
