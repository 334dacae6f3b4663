"""Measuring category inference on phrasings whose category is known: precision and recall.

Owns :func:`score_inference`, which ``tests/test_inference.py`` (a floor on the corpus of
``tests/data/phrasings.yaml``) and ``benchmarks/inference.py`` (the figures per category)
share. Every guess counts, sure or not: a text guessed wrong, or guessed at all when it names
no category, counts against precision; a text of a category not guessed as it, against
recall. How many guesses were unsure, and the precision of the sure ones alone, are counted
beside.
"""

from __future__ import annotations

from collections.abc import Iterable

import attrs

from rectify.definitions._categories import CategoryTable
from rectify.spreadsheets._lexicon import Lexicon

__all__ = ["CategoryScore", "InferenceScore", "Miss", "score_inference"]


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


@attrs.frozen
class CategoryScore:
    """One category's figures: its texts, the texts guessed as it, those guessed right."""

    code: str
    texts: int
    guessed: int
    right: int

    @property
    def precision(self) -> float | None:
        """Return the share of the texts guessed as this category that are of it."""
        return _share(self.right, self.guessed)

    @property
    def recall(self) -> float | None:
        """Return the share of this category's texts guessed as it."""
        return _share(self.right, self.texts)


@attrs.frozen
class Miss:
    """A text guessed wrong (or not at all): what it is, what was guessed, how sure."""

    text: str
    expected: str | None
    guessed: str | None
    confidence: float | None
    words: str = ""


@attrs.frozen
class InferenceScore:
    """Precision and recall of inference on a set of phrasings, in all and per category."""

    categories: tuple[CategoryScore, ...]
    texts: int
    negatives: int  # texts that name no category
    guessed: int
    right: int
    unsure: int
    sure_guessed: int
    sure_right: int
    misses: tuple[Miss, ...]

    @property
    def precision(self) -> float | None:
        """Return the share of guesses that are right (sure and unsure alike)."""
        return _share(self.right, self.guessed)

    @property
    def recall(self) -> float | None:
        """Return the share of texts of a category guessed as it."""
        return _share(self.right, self.texts - self.negatives)

    @property
    def sure_precision(self) -> float | None:
        """Return the share of sure guesses that are right."""
        return _share(self.sure_right, self.sure_guessed)


def score_inference(
    phrasings: Iterable[tuple[str, str | None]], table: CategoryTable
) -> InferenceScore:
    """Return how well ``table`` infers the category of each ``(text, category or None)``.

    Raises:
        ValueError: A phrasing names a category the table does not have.
    """
    lexicon = Lexicon.of(table)
    counts = {c.code: [0, 0, 0] for c in table.categories}  # texts, guessed, right
    texts = negatives = guessed = right = unsure = sure_guessed = sure_right = 0
    misses: list[Miss] = []
    for text, expected in phrasings:
        if expected is not None and expected not in counts:
            raise ValueError(f"phrasing {text!r} names category {expected!r}, not in the table")
        guess = lexicon.guess(text)
        got = guess.code if guess else None
        texts += 1
        negatives += expected is None
        if expected is not None:
            counts[expected][0] += 1
        if guess is not None:
            guessed += 1
            counts[guess.code][1] += 1
            unsure += not guess.sure
            sure_guessed += guess.sure
            sure_right += guess.sure and got == expected
        if got is not None and got == expected:
            right += 1
            counts[got][2] += 1
        elif got != expected:
            confidence = guess.confidence if guess else None
            misses.append(Miss(text, expected, got, confidence, guess.words if guess else ""))
    return InferenceScore(
        tuple(CategoryScore(code, *figures) for code, figures in counts.items()),
        texts,
        negatives,
        guessed,
        right,
        unsure,
        sure_guessed,
        sure_right,
        tuple(misses),
    )
