"""The SQL store's outbox: effects handed out to the host until it acknowledges them.

Owns ``_Outbox``, the part of ``SQLStore`` that hands out pending effects oldest first
(counting each hand-out as an attempt), records failed deliveries and dead letters, lists
the failed ones and deletes the acknowledged. The writes put effects into the outbox
(``_Writing._put_effects``); this part only reads and settles them.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable
from typing import Any

import sqlalchemy as sa

from rectify.stores._codec import effect_from_json
from rectify.stores._sql_connect import _Connected
from rectify.stores._sql_read import _chunks
from rectify.stores._store import Delivery, clean_error

__all__: list[str] = []


class _Outbox(_Connected):
    """Handing effects out and settling them (part of ``SQLStore``)."""

    def pending(self, limit: int = 100, *, skip: Collection[str] = ()) -> list[Delivery]:
        """Return effects neither acknowledged nor dead, oldest first (see :class:`Store`).

        Each call counts an attempt: the row's ``attempts`` is raised in the transaction
        that reads it, and the deliveries carry the raised count (1 the first time).
        """
        outbox = self._tables.outbox
        statement = (
            sa.select(
                outbox.c.id,
                outbox.c.case_id,
                outbox.c.effect,
                outbox.c.attempts,
                outbox.c.last_error,
            )
            .where(outbox.c.dead == sa.false())
            .order_by(outbox.c.created, outbox.c.id)
            .limit(max(limit, 0))
        )
        for ids in _chunks(sorted(set(skip))):
            statement = statement.where(outbox.c.id.not_in(ids))
        with self._failing("reading the outbox"), self._begin(write=True) as conn:
            rows = conn.execute(statement).all()
            for ids in _chunks([str(row.id) for row in rows]):
                conn.execute(
                    outbox.update()
                    .where(outbox.c.id.in_(ids))
                    .values(attempts=outbox.c.attempts + 1)
                )
        return [
            Delivery(
                str(row.id),
                str(row.case_id),
                effect_from_json(json.loads(row.effect)),
                int(row.attempts) + 1,  # this hand-out, counted in the update above
                row.last_error,
            )
            for row in rows
        ]

    def fail(self, delivery_id: str, error: str, *, dead_after: int) -> Delivery | None:
        """Record that a delivery failed (see :class:`Store`), in one transaction."""
        outbox = self._tables.outbox
        text = clean_error(error)
        with (
            self._failing(f"recording the failure of {delivery_id!r}"),
            self._begin(write=True) as conn,
        ):
            conn.execute(
                outbox.update()
                .where(outbox.c.id == delivery_id)
                .values(
                    last_error=text,
                    dead=sa.or_(outbox.c.dead, outbox.c.attempts >= dead_after),
                )
            )
            row = conn.execute(self._deliveries().where(outbox.c.id == delivery_id)).first()
        return None if row is None else _delivery(row)

    def failed(self, limit: int = 100) -> list[Delivery]:
        """Return deliveries whose last attempt failed, dead ones included, oldest first."""
        outbox = self._tables.outbox
        statement = (
            self._deliveries()
            .where(outbox.c.last_error.is_not(None))
            .order_by(outbox.c.created, outbox.c.id)
            .limit(max(limit, 0))
        )
        with self._failing("reading the failed deliveries"), self._begin() as conn:
            return [_delivery(row) for row in conn.execute(statement).all()]

    def redrive(self, ids: Iterable[str]) -> int:
        """Put dead letters back in the queue (see :class:`Store`), in one transaction."""
        outbox = self._tables.outbox
        done = 0
        with self._failing("re-driving dead letters"), self._begin(write=True) as conn:
            for chunk in _chunks(sorted(set(ids))):
                result = conn.execute(
                    outbox.update()
                    .where(outbox.c.id.in_(chunk), outbox.c.dead == sa.true())
                    .values(attempts=0, last_error=None, dead=False)
                )
                done += result.rowcount
        return done

    def _deliveries(self) -> sa.Select[Any]:
        outbox = self._tables.outbox
        return sa.select(
            outbox.c.id,
            outbox.c.case_id,
            outbox.c.effect,
            outbox.c.attempts,
            outbox.c.last_error,
            outbox.c.dead,
        )

    def acknowledge(self, ids: Iterable[str]) -> None:
        """Delete delivered effects from the outbox; unknown or repeated ids are ignored."""
        outbox = self._tables.outbox
        done = sorted(set(ids))
        if not done:
            return
        with self._failing("acknowledging effects"), self._begin(write=True) as conn:
            for chunk in _chunks(done):
                conn.execute(outbox.delete().where(outbox.c.id.in_(chunk)))


def _delivery(row: Any) -> Delivery:  # noqa: ANN401 - a row of the outbox table
    return Delivery(
        str(row.id),
        str(row.case_id),
        effect_from_json(json.loads(row.effect)),
        int(row.attempts),
        row.last_error,
        bool(row.dead),
    )
