"""The migrations build exactly the schema tables.py describes, on every backend."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from paymux.store.engine import make_engine
from paymux.store.migrate import MIGRATIONS, alembic_config, upgrade
from paymux.store.tables import metadata
from tests.harness import BACKENDS, pg_schema


def test_one_head():
    """Every branch of the migration history is merged, so autogenerate has one base."""
    script = ScriptDirectory.from_config(alembic_config(make_engine("sqlite://", writer=False)))
    assert len(script.get_heads()) == 1, script.get_heads()
    assert MIGRATIONS.is_dir()


@pytest.mark.parametrize("backend", BACKENDS)
def test_migrated_schema_matches_tables(backend: str, tmp_path: Path):
    if backend == "postgresql":
        with pg_schema() as url:
            _compare(url)
    else:
        _compare(f"sqlite:///{tmp_path / 'm.db'}")


def _compare(url: str) -> None:
    engine = make_engine(url, writer=False)
    try:
        upgrade(engine)
        with engine.connect() as conn:
            diff = compare_metadata(
                MigrationContext.configure(conn, opts={"compare_type": True}), metadata
            )
    finally:
        engine.dispose()
    assert diff == [], diff
