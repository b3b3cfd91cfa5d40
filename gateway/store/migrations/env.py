"""Alembic environment: runs on the connection the gateway hands it (see ``Database.migrate``)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from gateway.store.schema import metadata

config = context.config


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is None:  # `alembic` command line: a synchronous URL from -x url=...
        url = context.get_x_argument(as_dictionary=True).get("url", "sqlite:///./gateway.db")
        with create_engine(url).connect() as conn:
            context.configure(connection=conn, target_metadata=metadata, render_as_batch=True)
            with context.begin_transaction():
                context.run_migrations()
            conn.commit()
        return
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()
