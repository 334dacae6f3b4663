"""Print how well the category table infers categories from the corpus of real phrasings.

Usage::

    python benchmarks/inference.py [--section tuning|held_out|fresh] [--misses]
                                   [--categories FILE] [--corpus FILE]

Reads ``tests/data/phrasings.yaml`` (each section maps a category code, or ``none``, to the
hazard texts clerks wrote) and prints, per category and in all, the texts, the guesses, the
precision and the recall of :func:`rectify.spreadsheets._scoring.score_inference`, then
totals per section and for the whole corpus (with the sure guesses' precision and how many
guesses were unsure). ``--misses`` lists every text guessed wrong. Nothing is timed and
nothing asserted: ``tests/test_inference.py`` holds the floor.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import yaml

import rectify
from rectify.spreadsheets._scoring import InferenceScore, score_inference

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "tests" / "data" / "phrasings.yaml"
NONE = "none"


def phrasings(corpus: Path, section: str | None = None) -> list[tuple[str, str | None]]:
    """Return ``(text, category or None)`` of one section of the corpus, or of all of them."""
    data = yaml.safe_load(corpus.read_text(encoding="utf-8"))
    sections = [section] if section else list(data)
    return [
        (text, None if code == NONE else code)
        for name in sections
        for code, texts in data[name].items()
        for text in texts
    ]


def _figure(value: float | None) -> str:
    return "   -" if value is None else f"{value:.3f}"


def _totals(name: str, score: InferenceScore) -> str:
    return (
        f"{name:<10} texts {score.texts:4}  (none {score.negatives:3})  guessed {score.guessed:4}"
        f"  right {score.right:4}  precision {_figure(score.precision)}"
        f"  recall {_figure(score.recall)}  sure precision {_figure(score.sure_precision)}"
        f"  unsure {score.unsure}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Print the figures; return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--section", help="only this section of the corpus")
    parser.add_argument("--misses", action="store_true", help="list the texts guessed wrong")
    parser.add_argument("--categories", type=Path, help="a category table (the shipped one)")
    parser.add_argument("--corpus", type=Path, default=CORPUS, help="the corpus of phrasings")
    args = parser.parse_args(argv)
    table = (
        rectify.load_categories(args.categories) if args.categories else rectify.load_categories()
    )
    score = score_inference(phrasings(args.corpus, args.section), table)
    print(
        f"{'category':<16} {'texts':>5} {'guessed':>7} {'right':>5} {'precision':>9} {'recall':>6}"
    )
    for c in score.categories:
        print(
            f"{c.code:<16} {c.texts:5} {c.guessed:7} {c.right:5} "
            f"{_figure(c.precision):>9} {_figure(c.recall):>6}"
        )
    print()
    if args.section is None:
        data = yaml.safe_load(args.corpus.read_text(encoding="utf-8"))
        for name in data:
            print(_totals(name, score_inference(phrasings(args.corpus, name), table)))
    print(_totals(args.section or "all", score))
    if args.misses:
        print()
        for miss in score.misses:
            confidence = "" if miss.confidence is None else f" ({miss.confidence:.2f} {miss.words})"
            expected, guessed = miss.expected or NONE, miss.guessed or NONE
            print(f"{expected:<16} -> {guessed:<16}{confidence}  {miss.text}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
