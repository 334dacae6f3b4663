"""The store protocol, the query and delivery values, and the in-memory store.

A store keeps each case's append-only history, its current projection and an outbox of
effects waiting for the host. Writing is optimistic: appending names the sequence number
the writer read, and a store that has moved on refuses with ``ConcurrencyError``.
"""

from __future__ import annotations

import datetime as dt
import itertools
import threading
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from typing import Final, Protocol

import attrs

from rectify.engine._case import Case, Effect, Outcome, Record, freeze
from rectify.engine._engine import instant
from rectify.exceptions import (
    ArgumentError,
    CaseExistsError,
    CaseNotFoundError,
    ConcurrencyError,
    StoreError,
)

__all__ = [
    "DOCUMENT_KEY_LENGTH",
    "HASH_LENGTH",
    "MAX_IDS",
    "AuditRow",
    "CaseQuery",
    "CaseSummary",
    "Delivery",
    "MemoryStore",
    "Store",
    "check_document",
    "check_rendering",
    "clean_error",
    "effect_ids",
    "matches",
    "projection_columns",
]


#: The most case ids one ``CaseQuery(ids=...)`` names (one ``IN (...)`` list of a SQL store).
MAX_IDS: Final = 500


def _id_set(ids: Iterable[str] | None) -> frozenset[str] | None:
    return None if ids is None else frozenset(ids)


@attrs.frozen
class CaseQuery:
    """Which cases to return; every field given must match (``None``: any).

    ``overdue_on`` keeps open cases whose running deadline has passed on that date;
    ``due_by`` those with a deadline on or before it; ``min_escalation`` those at or above a
    level; ``escalation_due`` the open cases a sweep at that moment must look at: those
    whose next escalation level came due by then (``Case.next_due`` as stored) or whose
    schedule is not known; ``ids`` those of the given ids (at most ``MAX_IDS``). Results
    come ordered by case id; ``after`` and ``limit`` page through them.

    Raises:
        ArgumentError: ``ids`` names more than ``MAX_IDS`` cases.
    """

    community: str | None = None
    state: str | None = None
    category: str | None = None
    severity: str | None = None
    workflow: str | None = None
    open: bool | None = None
    overdue_on: dt.date | None = None
    due_by: dt.date | None = None
    min_escalation: int | None = None
    escalation_due: dt.datetime | None = None
    ids: frozenset[str] | None = attrs.field(default=None, converter=_id_set)
    after: str | None = None
    limit: int | None = None

    def __attrs_post_init__(self) -> None:
        if self.ids is not None and len(self.ids) > MAX_IDS:
            raise ArgumentError(
                f"a query names at most {MAX_IDS} case ids, not {len(self.ids)}; "
                "ask in several queries"
            )


@attrs.frozen
class CaseSummary:
    """A stored case as its projection holds it, without its history.

    What listings, counts and totals need: a SQL store reads it from its columns and
    decodes no record (``Store.summaries``). ``seq`` is the case's last sequence number.
    """

    id: str
    workflow: str
    version: int
    state: str
    data: Mapping[str, object] = attrs.field(converter=freeze, factory=dict)
    deadline: dt.date | None = None
    escalation: int | None = None
    final: bool = False
    paused: bool = False
    seq: int = -1

    @classmethod
    def of(cls, case: Case) -> CaseSummary:
        """Return the summary of ``case``."""
        return cls(
            case.id,
            case.workflow,
            case.version,
            case.state,
            case.data,
            case.deadline,
            case.escalation,
            case.final,
            case.paused_since is not None,
            case.seq,
        )

    def is_overdue(self, day: dt.date) -> bool:
        """Return whether the case is open, its clock running and past its deadline on ``day``."""
        return (
            self.deadline is not None and not self.final and not self.paused and day > self.deadline
        )


def matches(case: Case, query: CaseQuery) -> bool:
    """Return whether ``case`` satisfies ``query`` (ignoring ``after`` and ``limit``).

    ``escalation_due`` is judged by ``case.next_due``, as the store kept it.
    """
    data = case.data
    checks = (
        query.community is None or data.get("community") == query.community,
        query.state is None or case.state == query.state,
        query.category is None or data.get("category") == query.category,
        query.severity is None or data.get("severity") == query.severity,
        query.workflow is None or case.workflow == query.workflow,
        query.open is None or query.open is not case.final,
        query.overdue_on is None
        or (
            case.deadline is not None
            and not case.final
            and case.paused_since is None
            and query.overdue_on > case.deadline
        ),
        query.due_by is None or (case.deadline is not None and case.deadline <= query.due_by),
        query.min_escalation is None
        or (case.escalation is not None and case.escalation >= query.min_escalation),
        query.ids is None or case.id in query.ids,
        query.escalation_due is None
        or (
            not case.final
            and (case.next_due is None or instant(case.next_due) <= instant(query.escalation_due))
        ),
    )
    return all(checks)


@attrs.frozen
class Delivery:
    """An effect waiting in the outbox. ``id`` is stable: the same effect, the same id.

    Attributes:
        attempts: How many times ``pending`` has handed the effect out, this time included:
            1 the first time, 2 when it comes again, and so on (0 only before it was ever
            handed out).
        last_error: Why its last delivery failed (``Store.fail``); ``None`` if it never did.
        dead: Whether it failed on its ``dead_after``-th attempt and is no longer handed out
            (a dead letter, listed by ``Store.failed`` until acknowledged).
    """

    id: str
    case_id: str
    effect: Effect
    attempts: int = 0
    last_error: str | None = None
    dead: bool = False


#: The most characters of a delivery's error text a store keeps.
ERROR_LENGTH: Final = 2000


def clean_error(text: str) -> str:
    """Return ``text`` as every backend stores it: no NUL, valid UTF-8, bounded length."""
    valid = text.replace("\x00", "\ufffd").encode("utf-8", "replace").decode("utf-8")
    return valid[:ERROR_LENGTH]


def effect_ids(case: Case, effects: Sequence[Effect]) -> list[str]:
    """Return the stable ids of ``effects`` produced by the last append to ``case``."""
    return [f"{case.id}:{case.seq}:{i}" for i in range(len(effects))]


Progress = Callable[[int, int], None]

#: The most characters of a document's identity, and of a rendering's variant, a store keeps.
DOCUMENT_KEY_LENGTH: Final = 255
#: The most characters of a rendering's template or context hash (SHA-256 in hex: 64).
HASH_LENGTH: Final = 64


def check_document(identity: str) -> None:
    """Refuse a document identity that is empty or longer than every store keeps.

    Raises:
        StoreError: ``identity`` is empty or longer than ``DOCUMENT_KEY_LENGTH``.
    """
    if not identity:
        raise StoreError("a document identity must not be empty")
    _check_length("document identity", identity, DOCUMENT_KEY_LENGTH)


def check_rendering(identity: str, variant: str, template_sha256: str, context_sha256: str) -> None:
    """Refuse a rendering whose identity, variant or hashes do not fit every store.

    Raises:
        StoreError: The identity is empty, or a value is longer than its column.
    """
    check_document(identity)
    _check_length(f"variant of document {identity!r}", variant, DOCUMENT_KEY_LENGTH)
    _check_length(f"template hash of document {identity!r}", template_sha256, HASH_LENGTH)
    _check_length(f"context hash of document {identity!r}", context_sha256, HASH_LENGTH)


def _check_length(what: str, value: str, limit: int) -> None:
    if len(value) > limit:
        raise StoreError(f"the {what} is {len(value)} characters long; at most {limit} fit")


@attrs.frozen
class AuditRow:
    """One case as its store holds it, read raw for verification (see ``Store.audit``).

    Attributes:
        case_id: The case's id: of its case row, or of records that have no case row.
        head: The last sequence number and digest the case row records; ``None`` when the
            records have no case row (they are orphans).
        case: The stored case without its history; ``None`` when it does not decode (see
            ``errors``) or there is no case row.
        columns: The store's own copies of case values (the columns its queries filter on),
            by column name, as stored; empty for a store that keeps none.
        records: Every stored record that decodes, by sequence number, those past the head
            included.
        errors: What does not decode, as ``(seq, message)``: ``seq`` is ``None`` for the
            case row itself.
    """

    case_id: str
    head: tuple[int, str] | None
    case: Case | None
    columns: Mapping[str, object] = attrs.field(factory=dict)
    records: tuple[Record, ...] = ()
    errors: tuple[tuple[int | None, str], ...] = ()


def projection_columns(case: Case) -> dict[str, object]:
    """Return the values of the columns a SQL store keeps beside ``case``, by column name.

    Verification compares them with the columns as stored (``AuditRow.columns``).
    """
    data = case.data
    return {
        "workflow": case.workflow,
        "version": case.version,
        "state": case.state,
        **{
            name: value if isinstance(value := data.get(name), str) else None
            for name in ("community", "category", "severity")
        },
        "deadline": case.deadline,
        "escalation": case.escalation,
        "is_final": case.final,
        "is_paused": case.paused_since is not None,
        "data": data,
    }


class Store(Protocol):
    """Where cases, their histories and their pending effects live."""

    def add(self, case: Case, effects: Sequence[Effect]) -> None:
        """Store a new case with its whole history and effects, in one transaction.

        Raises:
            CaseExistsError: A case with that id is stored already.
        """
        ...

    def append(self, case: Case, expected_seq: int, effects: Sequence[Effect]) -> None:
        """Store the records of ``case`` after ``expected_seq``, its projection and effects.

        Raises:
            ConcurrencyError: The stored case is no longer at ``expected_seq``.
            CaseNotFoundError: No such case.
        """
        ...

    def append_all(self, items: Sequence[tuple[Case, int, Sequence[Effect]]]) -> None:
        """Append to several cases (``(case, expected_seq, effects)``) in one transaction.

        Raises:
            ConcurrencyError: One of the cases is no longer at its expected sequence number;
                nothing was stored.
            CaseNotFoundError: One of the cases does not exist; nothing was stored.
        """
        ...

    def change(self, case_id: str, step: Callable[[Case], Outcome]) -> Outcome:
        """Read a case, let ``step`` change it and store the outcome, in one transaction.

        ``step`` gets the case as stored (with its history) and returns the outcome to
        store after it: records appended to that case, its projection and effects. Nothing
        else writes to the case meanwhile (a database's writers wait, or lose with
        ``ConcurrencyError``). Whatever ``step`` raises is raised unchanged, with nothing
        stored. ``step`` must be quick and touch no store: it runs inside the transaction.

        Raises:
            CaseNotFoundError: No such case.
        """
        ...

    def reschedule(self, items: Sequence[tuple[str, int, dt.datetime | None]]) -> None:
        """Keep when cases' next escalation levels can come due (``Case.next_due``).

        Each item is ``(case_id, seq, next_due)``; a case no longer at ``seq`` (changed
        meanwhile: its writer kept its own) or not stored is left alone.
        """
        ...

    def get(self, case_id: str) -> Case:
        """Return the case with its history.

        Raises:
            CaseNotFoundError: No such case.
        """
        ...

    def query(self, query: CaseQuery) -> list[Case]:
        """Return the cases matching ``query``, ordered by id."""
        ...

    def summaries(self, query: CaseQuery) -> list[CaseSummary]:
        """Return the cases matching ``query`` without their histories, ordered by id."""
        ...

    def count(self, query: CaseQuery) -> int:
        """Return how many cases match ``query`` (``after`` and ``limit`` count too)."""
        ...

    def pending(self, limit: int = 100, *, skip: Collection[str] = ()) -> list[Delivery]:
        """Return effects neither acknowledged nor dead, oldest first, except ``skip``.

        Each call counts an attempt: an effect handed out for the first time has
        ``attempts == 1``, the next time 2. ``skip`` names deliveries not to hand out now
        (those that failed earlier in the same run).
        """
        ...

    def acknowledge(self, ids: Iterable[str]) -> None:
        """Mark effects as delivered (dead letters: dealt with); unknown ids are ignored."""
        ...

    def fail(self, delivery_id: str, error: str, *, dead_after: int) -> Delivery | None:
        """Record that a delivery failed; it is handed out again until it is dead.

        A delivery that fails once its ``attempts`` have reached ``dead_after`` becomes a
        dead letter: ``pending`` no longer hands it out. ``error`` is kept as
        :func:`clean_error` makes it.

        Returns:
            The delivery as recorded, or ``None`` if no such delivery is in the outbox (it
            was acknowledged meanwhile).
        """
        ...

    def failed(self, limit: int = 100) -> list[Delivery]:
        """Return deliveries whose last attempt failed, dead letters included, oldest first."""
        ...

    def redrive(self, ids: Iterable[str]) -> int:
        """Put dead letters back in the queue as new: no attempts, no error; return how many.

        Ids that are not dead letters (pending, unknown, acknowledged) are left as they are.
        """
        ...

    def next_number(self, code: str, year: int) -> int:
        """Return the next unused document number of ``code`` in ``year`` (never reused)."""
        ...

    def register_document(
        self, identity: str, code: str, issued_on: dt.date
    ) -> tuple[int, dt.date]:
        """Return ``(number, issued_on)`` of document ``identity``, numbering it once.

        See ``rectify.documents.DocumentRegister``: the first time, the next number of
        ``code`` in ``issued_on``'s year (the ``next_number`` series) is taken and kept with
        ``issued_on``, in one transaction; later, what was kept is returned.

        Raises:
            StoreError: ``identity`` is empty or longer than 255 characters.
        """
        ...

    def register_documents(
        self, documents: Sequence[tuple[str, str, dt.date]]
    ) -> list[tuple[int, dt.date]]:
        """Register many documents (``(identity, code, issued_on)``) at once, in order.

        What ``register_document`` does for each, in one transaction (an import numbers its
        cases this way).

        Raises:
            StoreError: An identity is empty or longer than 255 characters.
        """
        ...

    def fingerprint_document(
        self, identity: str, variant: str, template_sha256: str, context_sha256: str
    ) -> tuple[str, str]:
        """Return the hashes kept for this rendering, keeping the given ones the first time.

        See ``rectify.documents.DocumentRegister``.

        Raises:
            StoreError: ``identity`` is empty, ``identity`` or ``variant`` is longer than
                255 characters, or a hash longer than 64.
        """
        ...

    def cases(self) -> Iterator[Case]:
        """Yield every stored case (for verification), ordered by id."""
        ...

    def heads(self) -> Iterator[tuple[str, int, str]]:
        """Yield each case's id, last sequence number and last digest, as written.

        Verification compares them with the histories: a history cut short at its end
        still chains correctly, but no longer ends at its head.
        """
        ...

    def audit(self) -> Iterator[AuditRow]:
        """Yield every case as stored, raw, for verification.

        Case rows come ordered by id, then the records whose case row is missing (by case
        id). Unlike ``cases``, nothing that fails to decode stops it: the failure is on the
        row, in ``AuditRow.errors``.
        """
        ...

    def add_many(
        self,
        items: Iterable[tuple[Case, Sequence[Effect]]],
        *,
        batch: int = 500,
        progress: Progress | None = None,
    ) -> int:
        """Store many new cases, one transaction per batch; return how many were stored.

        Cases whose id is stored already are skipped (a re-import does not duplicate).
        ``progress(done, total_so_far)`` is called after each batch.
        """
        ...

    def close(self) -> None:
        """Release connections and files."""
        ...


def _unscheduled(case: Case) -> Case:
    """Return ``case`` as a store hands it out: its schedule not known (see ``Case``)."""
    return case if case.next_due is None else attrs.evolve(case, next_due=None)


class MemoryStore:
    """A store in memory for tests and small hosts; thread-safe, not durable."""

    def __init__(self) -> None:
        self._cases: dict[str, Case] = {}
        self._outbox: dict[str, Delivery] = {}
        self._numbers: dict[tuple[str, int], int] = {}
        self._documents: dict[str, tuple[int, dt.date]] = {}
        self._renderings: dict[tuple[str, str], tuple[str, str]] = {}
        self._lock = threading.Lock()

    def add(self, case: Case, effects: Sequence[Effect]) -> None:
        """Store a new case (see :class:`Store`)."""
        with self._lock:
            if case.id in self._cases:
                raise CaseExistsError(f"case {case.id!r} is stored already")
            self._put(case, effects)

    def _put(self, case: Case, effects: Sequence[Effect]) -> None:
        self._cases[case.id] = case
        for effect_id, effect in zip(effect_ids(case, effects), effects, strict=True):
            self._outbox.setdefault(effect_id, Delivery(effect_id, case.id, effect))

    def append(self, case: Case, expected_seq: int, effects: Sequence[Effect]) -> None:
        """Store a case's new records (see :class:`Store`)."""
        self.append_all([(case, expected_seq, effects)])

    def append_all(self, items: Sequence[tuple[Case, int, Sequence[Effect]]]) -> None:
        """Append to several cases at once, all or nothing (see :class:`Store`)."""
        with self._lock:
            for case, expected_seq, _ in items:  # check every case before writing any
                stored = self._cases.get(case.id)
                if stored is None:
                    raise CaseNotFoundError(case.id)
                if stored.seq != expected_seq:
                    raise ConcurrencyError(case_id=case.id, expected=expected_seq, found=stored.seq)
            for case, _, effects in items:
                self._put(case, effects)

    def change(self, case_id: str, step: Callable[[Case], Outcome]) -> Outcome:
        """Read, change and store a case at once (see :class:`Store`)."""
        with self._lock:
            stored = self._cases.get(case_id)
            if stored is None:
                raise CaseNotFoundError(case_id)
            outcome = step(_unscheduled(stored))
            if outcome.case.id != case_id:
                raise StoreError(f"a change of case {case_id!r} returned case {outcome.case.id!r}")
            self._put(outcome.case, outcome.effects)
        return outcome

    def reschedule(self, items: Sequence[tuple[str, int, dt.datetime | None]]) -> None:
        """Keep cases' next escalation moments (see :class:`Store`)."""
        with self._lock:
            for case_id, seq, next_due in items:
                stored = self._cases.get(case_id)
                if stored is not None and stored.seq == seq:
                    self._cases[case_id] = attrs.evolve(stored, next_due=next_due)

    def get(self, case_id: str) -> Case:
        """Return a case (see :class:`Store`)."""
        with self._lock:
            case = self._cases.get(case_id)
        if case is None:
            raise CaseNotFoundError(case_id)
        return _unscheduled(case)

    def query(self, query: CaseQuery) -> list[Case]:
        """Return matching cases (see :class:`Store`)."""
        with self._lock:
            found = sorted(
                (c for c in self._cases.values() if matches(c, query)), key=lambda c: c.id
            )
        if query.after is not None:
            found = [c for c in found if c.id > query.after]
        found = found[: query.limit] if query.limit is not None else found
        return [_unscheduled(case) for case in found]

    def pending(self, limit: int = 100, *, skip: Collection[str] = ()) -> list[Delivery]:
        """Return undelivered effects (see :class:`Store`)."""
        skipped = frozenset(skip)
        with self._lock:
            waiting = (d for d in self._outbox.values() if not d.dead and d.id not in skipped)
            out = [
                attrs.evolve(delivery, attempts=delivery.attempts + 1)
                for delivery in itertools.islice(waiting, max(limit, 0))
            ]
            self._outbox.update((delivery.id, delivery) for delivery in out)
        return out

    def fail(self, delivery_id: str, error: str, *, dead_after: int) -> Delivery | None:
        """Record a failed delivery (see :class:`Store`)."""
        with self._lock:
            delivery = self._outbox.get(delivery_id)
            if delivery is None:
                return None
            failed = attrs.evolve(
                delivery,
                last_error=clean_error(error),
                dead=delivery.dead or delivery.attempts >= dead_after,
            )
            self._outbox[delivery_id] = failed
        return failed

    def failed(self, limit: int = 100) -> list[Delivery]:
        """Return failed deliveries (see :class:`Store`)."""
        with self._lock:
            found = (d for d in self._outbox.values() if d.last_error is not None)
            return list(itertools.islice(found, max(limit, 0)))

    def redrive(self, ids: Iterable[str]) -> int:
        """Put dead letters back in the queue (see :class:`Store`)."""
        done = 0
        with self._lock:
            for effect_id in set(ids):
                delivery = self._outbox.get(effect_id)
                if delivery is not None and delivery.dead:
                    self._outbox[effect_id] = attrs.evolve(
                        delivery, attempts=0, last_error=None, dead=False
                    )
                    done += 1
        return done

    def acknowledge(self, ids: Iterable[str]) -> None:
        """Mark effects delivered (see :class:`Store`)."""
        with self._lock:
            for effect_id in ids:
                self._outbox.pop(effect_id, None)

    def next_number(self, code: str, year: int) -> int:
        """Return the next document number (see :class:`Store`)."""
        with self._lock:
            return self._next_number(code, year)

    def _next_number(self, code: str, year: int) -> int:
        number = self._numbers.get((code, year), 0) + 1
        self._numbers[(code, year)] = number
        return number

    def register_document(
        self, identity: str, code: str, issued_on: dt.date
    ) -> tuple[int, dt.date]:
        """Return a document's number and date, numbering it once (see :class:`Store`)."""
        check_document(identity)
        with self._lock:
            kept = self._documents.get(identity)
            if kept is None:
                kept = (self._next_number(code, issued_on.year), issued_on)
                self._documents[identity] = kept
            return kept

    def register_documents(
        self, documents: Sequence[tuple[str, str, dt.date]]
    ) -> list[tuple[int, dt.date]]:
        """Register many documents at once (see :class:`Store`)."""
        for identity, _, _ in documents:
            check_document(identity)
        return [self.register_document(*document) for document in documents]

    def fingerprint_document(
        self, identity: str, variant: str, template_sha256: str, context_sha256: str
    ) -> tuple[str, str]:
        """Return the hashes kept for a rendering (see :class:`Store`)."""
        check_rendering(identity, variant, template_sha256, context_sha256)
        with self._lock:
            return self._renderings.setdefault(
                (identity, variant), (template_sha256, context_sha256)
            )

    def heads(self) -> Iterator[tuple[str, int, str]]:
        """Yield each case's head (see :class:`Store`)."""
        for case in self.cases():
            yield case.id, case.seq, case.history[-1].digest if case.history else ""

    def summaries(self, query: CaseQuery) -> list[CaseSummary]:
        """Return matching cases without their histories (see :class:`Store`)."""
        return [CaseSummary.of(case) for case in self.query(query)]

    def count(self, query: CaseQuery) -> int:
        """Return how many cases match (see :class:`Store`)."""
        return len(self.query(query))

    def cases(self) -> Iterator[Case]:
        """Yield every case (see :class:`Store`)."""
        with self._lock:
            snapshot = sorted(self._cases.values(), key=lambda c: c.id)
        for case in snapshot:
            yield _unscheduled(case)

    def audit(self) -> Iterator[AuditRow]:
        """Yield every case as stored (see :class:`Store`); the memory store keeps no columns."""
        for case in self.cases():
            head = (case.seq, case.history[-1].digest if case.history else "")
            yield AuditRow(case.id, head, attrs.evolve(case, history=()), records=case.history)

    def add_many(
        self,
        items: Iterable[tuple[Case, Sequence[Effect]]],
        *,
        batch: int = 500,
        progress: Progress | None = None,
    ) -> int:
        """Store many new cases (see :class:`Store`)."""
        stored = seen = 0
        for case, effects in items:
            seen += 1
            with self._lock:
                if case.id not in self._cases:
                    self._put(case, effects)
                    stored += 1
            if progress is not None and seen % batch == 0:
                progress(stored, seen)
        if progress is not None:
            progress(stored, seen)
        return stored

    def close(self) -> None:
        """Nothing to release."""
