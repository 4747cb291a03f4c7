"""Rule terms matched as a person reads them.

A rule term ("Publication", "press release", "annual report") matches the same words in an
entry's categories or text whatever their case, accents, HTML entities, hyphens or spacing
(`Press-release`, `press  release`, `PRESS RELEASE`, `Pressrelease`), and in the common English
inflections *of that term*: publication/publications, strategy/strategies, report/reports/
reporting, vacancies/vacancy. The forms are generated from the rule term, never by
cutting entry words down to a shared stem: a stemmer makes planning and plan one word, minutes
and minute, consultant and consultation, briefing and brief, and then every planning notice is
a plan and every last-minute change is minutes. Words whose inflection means something else
(planning is not plan, minutes are not a minute, news is not new) are listed below and never
generated; and "minutes" after a number ("takes 10 minutes") is a time, not a meeting's.

A term written `=Minutes` is exact: those words, in that case, with no inflection (accents,
entities, hyphens and spacing are still read as a person reads them).
"""

from __future__ import annotations

import html
import itertools
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

# Words separated by anything that is not a letter or digit; an underscore is a separator too.
_WORD = re.compile(r"[^\W_]+")
# Between two tokens, only these characters make them one compound word ("e-mail", "open-day").
_JOINERS = frozenset("-\u2010\u2011\u2012\u2013\u00ad")

# Plurals whose singular means something else: a minute is not minutes, new is not news.
PLURAL_SENSE = frozenset(
    {
        "minutes",
        "news",
        "results",  # exam or election results; "as a result" is not one
        "series",
        "species",
        "means",
        "proceedings",
        "premises",
        "works",
        "goods",
        "arms",
        "customs",
        "grounds",
        "letters",
        "savings",
        "earnings",
        "damages",
        "quarters",
        "headquarters",
        "whereabouts",
        "thanks",
        "arrears",
        "is",
        "us",
        "its",
        "this",
        "has",
        "was",
        "does",
        "as",
        "yes",
    }
)
# -ing forms that are words of their own, never generated from a shorter rule word: a planning
# application is not a plan, a building is not a build, a meeting is not a meet, a briefing is
# not a brief, a finding is not a find.
OWN_WORDS = frozenset(
    {
        "planning",
        "building",
        "meeting",
        "housing",
        "training",
        "hearing",
        "opening",
        "setting",
        "sitting",
        "finding",
        "funding",
        "listing",
        "briefing",
        "booking",
        "warning",
        "reading",
        "recording",
        "evening",
        "morning",
        "being",
        "offering",
        "proceeding",
        "minuting",
        "sporting",
        "parking",
        "timing",
        "wedding",
        "painting",
        "spring",
        "string",
        "thing",
        "king",
        "sing",
        "ring",
    }
)
_VOWELS = frozenset("aeiou")
# Plurals that after a number are a measure, not the document: "the survey takes 10 minutes"
# and "five minutes from the station" are no minutes of a meeting.
MEASURES = frozenset({"minutes"})
_COUNTS = frozenset(
    [
        "few",
        "several",
        "couple",
        "one",
        "two",
        "three",
        "four",
        "five",
        "six",
        "seven",
        "eight",
        "nine",
        "ten",
        "eleven",
        "twelve",
        "fifteen",
        "twenty",
        "thirty",
        "forty",
        "fifty",
        "sixty",
        "ninety",
    ]
)


def fold(word: str) -> str:
    """A word as compared when case and accents do not matter: 'Évaluation' -> 'evaluation'."""
    if word.isascii():
        return word.lower()
    decomposed = unicodedata.normalize("NFKD", word)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


@dataclass(frozen=True)
class Token:
    text: str  # as written in the entry (entities decoded)
    folded: str
    start: int
    end: int


Span = tuple[int, int]


def _index(words: tuple[str, ...], joined: tuple[bool, ...]) -> tuple[dict[str, list[int]], dict[str, Span]]:
    """Where each word starts, and each hyphenated compound written as one word ('e-mail' -> 'email')."""
    starts: dict[str, list[int]] = {}
    compounds: dict[str, Span] = {}
    for i, word in enumerate(words):
        starts.setdefault(word, []).append(i)
        compounds.setdefault(word, (i, i))
        j, whole = i, word
        while j + 1 < len(words) and joined[j] and j - i < 3:
            j += 1
            whole += words[j]
            compounds.setdefault(whole, (i, j))
    return starts, compounds


@dataclass(frozen=True)
class Text:
    """An entry's text (or one category), decoded, split into words and indexed once for every term."""

    source: str
    tokens: tuple[Token, ...]
    joined_to_next: tuple[bool, ...]  # token i and i+1 are written as one word with a hyphen
    folded: tuple[str, ...]
    raw: tuple[str, ...]
    folded_index: tuple[dict[str, list[int]], dict[str, Span]]
    raw_index: tuple[dict[str, list[int]], dict[str, Span]]

    @staticmethod
    @lru_cache(maxsize=8192)
    def of(raw: str) -> Text:
        source = unicodedata.normalize("NFC", html.unescape(html.unescape(raw)))
        tokens = tuple(Token(m.group(), fold(m.group()), m.start(), m.end()) for m in _WORD.finditer(source))
        joined = tuple(
            bool(gap) and all(c in _JOINERS for c in gap)
            for gap in (source[a.end : b.start] for a, b in itertools.pairwise(tokens))
        )
        folded = tuple(t.folded for t in tokens)
        written = tuple(t.text for t in tokens)
        return Text(source, tokens, joined, folded, written, _index(folded, joined), _index(written, joined))

    def span(self, first: int, last: int) -> str:
        return self.source[self.tokens[first].start : self.tokens[last].end]


@dataclass(frozen=True)
class Term:
    """One rule term and every form of it that counts as the same term."""

    written: str  # as in the config, '=' included
    exact: bool
    forms: frozenset[tuple[str, ...]]  # word sequences (folded unless exact)
    joined: frozenset[str]  # the same forms written as one word ("pressrelease", "openday")
    # For a quick "not here" (most terms, most texts): the forms' first words, and every form
    # that can be one word of the entry (one-word forms and the joined ones).
    firsts: frozenset[str] = frozenset()
    whole: frozenset[str] = frozenset()

    @property
    def label(self) -> str:
        return self.written


def _plural(word: str) -> str:
    if len(word) > 1 and word.endswith("y") and word[-2] not in _VOWELS:
        return word[:-1] + "ies"
    if word.endswith("is") and len(word) > 4:  # analysis -> analyses
        return word[:-2] + "es"
    if word.endswith(("s", "x", "z", "ch", "sh")):
        return word + "es"
    return word + "s"


def _singulars(word: str) -> set[str]:
    if word in PLURAL_SENSE or len(word) <= 3 or not word.endswith("s") or word.endswith(("ss", "us")):
        return set()
    if word.endswith("ies"):
        return {word[:-3] + "y"}
    if word.endswith("ses") and len(word) > 5:  # analyses -> analysis; releases -> release
        return {word[:-2] + "is", word[:-1]}
    if word.endswith("es") and word[:-2].endswith(("x", "z", "ch", "sh")):
        return {word[:-2]}
    if word.endswith("is"):
        return set()
    return {word[:-1]}


def _verb_forms(word: str) -> set[str]:
    """The -ing form of a base word (report -> reporting). No -ed form: 'reported' and
    'published' read as something that happened, not as a report or a publication."""
    if len(word) < 3 or word.endswith("ing") or not word.isalpha():
        return set()
    if word.endswith("e") and not word.endswith(("ee", "ye", "oe")):
        return {word[:-1] + "ing"}
    vowel_groups = len(re.findall(r"[aeiou]+", word))
    if (
        vowel_groups == 1
        and word[-1] not in _VOWELS | set("wxy")
        and word[-2] in _VOWELS
        and word[-3] not in _VOWELS
    ):  # plan -> planning (which is its own word, below), ship -> shipping
        return {word + word[-1] + "ing"}
    return {word + "ing"}


def inflections(word: str) -> frozenset[str]:
    """Every form of one (folded) rule word that reads as the same word."""
    # A plural rule term ("Vacancies") stands for its singular too; a singular one for its plural.
    bases = _singulars(word) or {word}
    forms = {word} | bases
    for base in bases:
        if base in PLURAL_SENSE or (base.endswith("s") and not base.endswith(("ss", "is"))):
            continue  # already a plural (or a word like 'news'): no plural or -ing of it
        forms.add(_plural(base))
        if base == word:  # a noun written as a plural ("Vacancies") is not a verb ("vacancying")
            forms |= {f for f in _verb_forms(base) if f not in OWN_WORDS}
    return frozenset(forms)


@lru_cache(maxsize=4096)
def term(written: str) -> Term:
    exact = written.startswith("=")
    words = tuple(t.text if exact else t.folded for t in Text.of(written[1:] if exact else written).tokens)
    if not words:
        return Term(written, exact, frozenset(), frozenset())
    # The last word carries the inflection in English ("annual reports", "open days").
    forms = frozenset({words}) if exact else frozenset((*words[:-1], last) for last in inflections(words[-1]))
    joined = frozenset("".join(f) for f in forms if len(f) > 1)
    firsts = frozenset(f[0] for f in forms)
    whole = joined | frozenset(f[0] for f in forms if len(f) == 1)
    return Term(written, exact, forms, joined, firsts, whole)


def find(t: Term, text: Text) -> str | None:
    """The entry's own words that match the term (as written in the entry), or None; the
    earliest match when there are several."""
    if not t.forms:
        return None
    starts, compounds = text.raw_index if t.exact else text.folded_index
    if t.firsts.isdisjoint(starts) and t.whole.isdisjoint(compounds):
        return None
    words = text.raw if t.exact else text.folded
    found: list[Span] = []
    for form in t.forms:
        n = len(form)
        found += [(i, i + n - 1) for i in starts.get(form[0], ()) if words[i : i + n] == form]
        if n == 1 and form[0] in compounds:  # 'email' written 'e-mail'
            found.append(compounds[form[0]])
    # A phrase written as one word ('Pressrelease') or hyphenated ('press-release').
    found += [compounds[j] for j in t.joined if j in compounds]
    found = [span for span in found if not _a_measure(text, span)]
    if not found:
        return None
    first, last = min(found)
    return text.span(first, last)


def _a_measure(text: Text, span: Span) -> bool:
    """'10 minutes', 'a few minutes': a time, not the term ('2025 minutes' is a year's)."""
    first, last = span
    if first != last or first == 0 or text.folded[first] not in MEASURES:
        return False
    before = text.folded[first - 1]
    return (before.isdigit() and len(before) <= 3) or before in _COUNTS


def find_any(terms: list[str], texts: list[Text]) -> tuple[str, str] | None:
    """The first rule term (in the config's order) found in any of the texts: (entry's words, term)."""
    for written in terms:
        t = term(written)
        for text in texts:
            found = find(t, text)
            if found is not None:
                return found, written
    return None
