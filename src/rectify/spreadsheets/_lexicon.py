"""Inferring a hazard's category from the words of its text, and how sure the guess is.

Owns :class:`Lexicon`, built once from a category table, and :meth:`Lexicon.guess`. The text
is cut into the words the table knows (greedy longest match over every word of its term sets
and synonyms: no dictionary of the language, no dependency) and read clause by clause (a
clause ends at ， ； 。 ! ? or a line break). Three kinds of evidence point at a category:

- a **keyword** of the category found as written (楼道堆放): strength 1.0;
- a **term set** (电动车 + 楼道 + 停放) all of whose parts have a word in one clause, in any
  order, with other words between, and none of its ``!`` words: strength 0.85 for two parts,
  0.9 for three or more; a set of one part is weak, 0.6;
- the category's **title**, cut into words the same way: when at least two of its words and
  at least half of them are in one clause, one of them a word at most two titles have (not
  缺失 or 损坏, which many do), 0.3 + 0.4 × the share found (0.7 at most).

Every word of a term set or a title stands for its synonyms. Evidence that lies wholly inside
the text a longer keyword or term set of another category matched is dropped (消火栓箱 of
the hose category inside 消火栓箱 + 堆放 of the blocked hydrant), so the more specific reading
wins. A category's score is its strongest evidence; the best score wins, ties going to the
evidence that covers more of the text, then to the table's order.

The **confidence** is the winner's score, less up to 0.4 when another category comes close
(no deduction at a lead of 0.25 or more, the full 0.4 at a tie). A guess is **sure** when its
confidence is at least :data:`SURE_CONFIDENCE` (0.7): an exact keyword with no close rival
is sure (1.0), so is a term set of two parts (0.85); a single word (0.6), a title that
only partly matches, or two categories equally likely (a keyword each: 0.6) are unsure.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Final

import attrs

from rectify.definitions._categories import CategoryTable, split_terms
from rectify.spreadsheets._text import text_key
from rectify.spreadsheets._values import SURE_CONFIDENCE

__all__ = ["Guess", "Lexicon"]

_KEYWORD: Final = 1.0
_WEAK: Final = 0.6  # a term set of one part
_PAIR: Final = 0.85  # a term set of two parts; each further part adds _MORE
_MORE: Final = 0.05
_MOST_TERMS: Final = 0.95
_TITLE_BASE: Final = 0.3
_TITLE_SPAN: Final = 0.4
_SPECIFIC: Final = 2  # a title word in at most this many titles tells categories apart
_CLOSE: Final = 0.25  # a rival within this of the winner's score takes confidence away
_RIVAL_COST: Final = 0.4  # what a rival with the same score takes
_CLAUSE: Final = re.compile(r"[,;!?。！？；，\n]")
#: Characters that join the words of a title without being one (the rest of it is a word).
_TITLE_JOINS: Final = re.compile(r"[、，,或和及与在被的了]+")

KEYWORD, TERMS, TITLE = "keyword", "terms", "title"


@attrs.frozen
class Guess:
    """What the text suggests: the category, the words it went by, how sure it is.

    ``by`` is ``keyword``, ``terms`` or ``title``; ``words`` the keyword, or the words
    found joined by ``+`` (电瓶车+楼道+停在). ``also`` names other categories with a keyword
    or a full term set in the text (a cell listing several hazards), ``rival`` the category
    that came close enough to cost confidence.
    """

    code: str
    words: str
    by: str
    confidence: float
    also: tuple[str, ...] = ()
    rival: str | None = None

    @property
    def sure(self) -> bool:
        """Return whether the guess is sure (confidence at least :data:`SURE_CONFIDENCE`)."""
        return self.confidence >= SURE_CONFIDENCE


@attrs.frozen
class _Token:
    start: int
    end: int
    word: str
    clause: int


@attrs.frozen
class _TermSet:
    parts: tuple[frozenset[str], ...]
    without: frozenset[str]


@attrs.frozen
class _Rules:
    """One category's keywords, term sets and title words, normalised and expanded."""

    code: str
    keywords: tuple[tuple[str, str], ...]  # (normalised, as written)
    sets: tuple[_TermSet, ...]
    title: tuple[frozenset[str], ...]  # each title word with its synonyms
    specific: frozenset[int]  # the places in ``title`` of words at most _SPECIFIC titles have
    literal: tuple[tuple[str, ...], ...]  # per title word, its forms the lexicon lacks (违章)


@attrs.frozen
class _Evidence:
    code: str
    by: str
    strength: float
    words: str
    spans: frozenset[int]
    order: int  # the category's place in the table

    @property
    def strong(self) -> bool:
        return self.by == KEYWORD or (self.by == TERMS and self.strength > _WEAK)


@attrs.frozen
class Lexicon:
    """The words of a category table, ready to read hazard texts with."""

    rules: tuple[_Rules, ...]
    vocabulary: frozenset[str]
    longest: int

    @classmethod
    def of(cls, table: CategoryTable) -> Lexicon:
        """Return the lexicon of ``table`` (its synonyms, term sets, keywords and titles)."""
        groups: dict[str, set[str]] = {}
        for group in table.synonyms:
            members = {text_key(w) for w in group}
            for word in members:
                groups.setdefault(word, set()).update(members)
        split = {c.code: [split_terms(t) for t in c.terms] for c in table.categories}
        words = set(groups)
        for written in split.values():
            for parts, without in written:
                words.update(text_key(w) for part in parts for w in part)
                words.update(text_key(w) for w in without)
        vocabulary = frozenset(w for w in words if w)
        longest = max((len(w) for w in vocabulary), default=1)

        def expand(word: str) -> frozenset[str]:
            key = text_key(word)
            return frozenset({key, *groups.get(key, ())})

        titles = [
            _merged(expand(w) for w in _title_words(c.title, vocabulary, longest))
            for c in table.categories
        ]
        rules: list[_Rules] = []
        for category, title in zip(table.categories, titles, strict=True):
            sets = tuple(
                _TermSet(
                    tuple(frozenset().union(*(expand(w) for w in part)) for part in parts),
                    frozenset().union(*(expand(w) for w in without)) if without else frozenset(),
                )
                for parts, without in split[category.code]
            )
            keywords = tuple((text_key(k), k) for k in category.keywords if text_key(k))
            specific = frozenset(
                i
                for i, group in enumerate(title)
                if sum(any(group & other for other in t) for t in titles) <= _SPECIFIC
            )
            literal = tuple(tuple(w for w in group if w not in vocabulary) for group in title)
            rules.append(_Rules(category.code, keywords, sets, title, specific, literal))
        return cls(tuple(rules), vocabulary, longest)

    def guess(self, text: str) -> Guess | None:
        """Return the category ``text`` suggests and how sure that is, or ``None``."""
        key = text_key(text)
        tokens = list(_segment(key, self.vocabulary, self.longest))
        present = frozenset(t.word for t in tokens)
        found = [
            e
            for order, rules in enumerate(self.rules)
            for e in _evidence(rules, order, key, tokens, present)
        ]
        kept = [e for e in found if not _covered(e, found)]
        best: dict[str, _Evidence] = {}
        for e in sorted(kept, key=_rank):
            best.setdefault(e.code, e)
        if not best:
            return None
        ranked = list(best.values())  # in rank order: the first of each category is its best
        top = ranked[0]
        rival = ranked[1] if len(ranked) > 1 else None
        lead = top.strength - (rival.strength if rival else 0.0)
        cost = _RIVAL_COST * max(0.0, 1.0 - lead / _CLOSE) if rival else 0.0
        also = tuple(
            dict.fromkeys(
                e.code for e in sorted(kept, key=_rank) if e.strong and e.code != top.code
            )
        )
        return Guess(
            top.code,
            top.words,
            top.by,
            round(top.strength - cost, 2),
            also,
            rival.code if rival and cost > 0 else None,
        )


def _rank(e: _Evidence) -> tuple[float, int, int]:
    return (-e.strength, -len(e.spans), e.order)


def _covered(e: _Evidence, found: Iterable[_Evidence]) -> bool:
    """Return whether another category's longer, strong evidence holds all of ``e``'s text."""
    return any(f.code != e.code and f.strong and e.spans < f.spans for f in found if f is not e)


def _segment(text: str, vocabulary: frozenset[str], longest: int) -> Iterator[_Token]:
    """Yield the known words of ``text`` with their clause, as many characters as can be.

    Of the ways to cut ``text`` into known words and other characters, the one that leaves
    fewest characters outside a word wins, then the one with fewer words: 东门市政消火栓 is
    东门 + 市政消火栓, not 东 + 门市 + 政 + 消火栓.
    """
    n = len(text)
    # best[i]: (characters in words, -words, next position, word) for text[i:]
    best: list[tuple[int, int, int, str]] = [(0, 0, n, "")] * (n + 1)
    for i in range(n - 1, -1, -1):
        covered, count, _, _ = best[i + 1]
        choice = (covered, count, i + 1, "")
        for size in range(min(longest, n - i), 0, -1):
            word = text[i : i + size]
            if word in vocabulary:
                rest = best[i + size]
                option = (rest[0] + size, rest[1] - 1, i + size, word)
                choice = max(choice, option, key=lambda c: (c[0], c[1]))
        best[i] = choice
    clauses = [0] * (n + 1)
    for i, char in enumerate(text):
        clauses[i + 1] = clauses[i] + (1 if _CLAUSE.match(char) else 0)
    at = 0
    while at < n:
        _, _, end, word = best[at]
        if word:
            yield _Token(at, end, word, clauses[at])
        at = end


def _title_words(title: str, vocabulary: frozenset[str], longest: int) -> list[str]:
    """Return a title's words: the known ones, and each run of other characters between."""
    key = text_key(title)
    words: list[str] = []
    at = 0
    for token in _segment(key, vocabulary, longest):
        words.extend(w for w in _TITLE_JOINS.split(key[at : token.start]) if len(w) > 1)
        words.append(token.word)
        at = token.end
    words.extend(w for w in _TITLE_JOINS.split(key[at:]) if len(w) > 1)
    return list(dict.fromkeys(words))


def _merged(groups: Iterable[frozenset[str]]) -> tuple[frozenset[str], ...]:
    """Return a title's word groups with those sharing a word made one (占用 and 堵塞)."""
    out: list[frozenset[str]] = []
    for group in groups:
        same = [g for g in out if g & group]
        out = [g for g in out if not g & group]
        out.append(group.union(*same))
    return tuple(out)


def _evidence(
    rules: _Rules, order: int, text: str, tokens: list[_Token], present: frozenset[str]
) -> Iterator[_Evidence]:
    """Yield what ``text`` holds of one category: its keywords, term sets and title.

    ``present`` is the set of the words of ``tokens``: what no part or too few title words
    meet is passed over at once (a ledger may have a million rows).
    """
    for key, written in rules.keywords:
        at = text.find(key)
        if at >= 0:
            spans = frozenset(range(at, at + len(key)))
            yield _Evidence(rules.code, KEYWORD, _KEYWORD, written, spans, order)
    for terms in rules.sets:
        if all(part & present for part in terms.parts):
            yield from _term_matches(rules.code, order, terms, tokens)
    if not rules.title:
        return
    known = sum(
        1
        for words, literal in zip(rules.title, rules.literal, strict=True)
        if words & present or any(w in text for w in literal)
    )
    if known >= 2:  # noqa: PLR2004 - a title needs two of its words
        yield from _title_match(rules, order, text, tokens)


def _term_matches(
    code: str, order: int, terms: _TermSet, tokens: list[_Token]
) -> Iterator[_Evidence]:
    for clause in sorted({t.clause for t in tokens}):
        here = [t for t in tokens if t.clause == clause]
        if any(t.word in terms.without for t in here):
            continue
        hits = [[t for t in here if t.word in part] for part in terms.parts]
        if not all(hits):
            continue
        n = len(terms.parts)
        strength = _WEAK if n == 1 else min(_MOST_TERMS, _PAIR + _MORE * (n - 2))
        shown = sorted({min(h, key=lambda t: t.start) for h in hits}, key=lambda t: t.start)
        spans = frozenset(i for h in hits for t in h for i in range(t.start, t.end))
        yield _Evidence(code, TERMS, strength, "+".join(t.word for t in shown), spans, order)


def _title_match(rules: _Rules, order: int, text: str, tokens: list[_Token]) -> Iterator[_Evidence]:
    """Yield the title's evidence in the clause that holds most of its words (if enough)."""
    best: _Evidence | None = None
    start = 0
    for clause, part in enumerate(_CLAUSE.split(text)):
        here = [t for t in tokens if t.clause == clause]
        found = _title_words_in(rules, part, start, here)
        start += len(part) + 1
        if found is not None and (best is None or found.strength > best.strength):
            best = found
    if best is not None:
        yield attrs.evolve(best, code=rules.code, order=order)


def _title_words_in(rules: _Rules, part: str, start: int, tokens: list[_Token]) -> _Evidence | None:
    """Return the evidence of the title's words in one clause (``part``, at ``start``)."""
    found: list[_Token] = []
    count = 0
    telling = False
    for place, (words, forms) in enumerate(zip(rules.title, rules.literal, strict=True)):
        hit = [t for t in tokens if t.word in words and t not in found]
        # A word of the title the lexicon does not know (违章), found as written.
        literal = [w for w in forms if w in part]
        if hit:
            found.extend(hit)
        elif literal:
            at = start + part.find(literal[0])
            found.append(_Token(at, at + len(literal[0]), literal[0], -1))
        count += bool(hit or literal)
        telling = telling or (bool(hit or literal) and place in rules.specific)
    share = count / len(rules.title)
    if not (telling and count >= 2 and share >= 0.5):  # noqa: PLR2004 - two words, half
        return None
    shown = sorted({t.start: t for t in found}.values(), key=lambda t: t.start)
    spans = frozenset(i for t in found for i in range(t.start, t.end))
    strength = round(_TITLE_BASE + _TITLE_SPAN * share, 2)
    joined = "+".join(dict.fromkeys(t.word for t in shown))
    return _Evidence(rules.code, TITLE, strength, joined, spans, 0)
