"""Masking personal data in customer and agent text that is shown or exported for analysis.

E-mail addresses, phone numbers (French and international formats), order numbers (5 digits in
this shop, see `actions/orders.py`) and person names become placeholders: `[email]`, `[phone]`,
`[order]`, `[name]`. Names come from two places: spans a caller found with spaCy (`PER`
entities, `handoff.service.insights.miner.text`) and introductions ("my name is ...", "je m'appelle
...") that a
small model misses. Masking errs on the side of hiding: a French postcode is also 5 digits and
becomes `[order]`, which loses nothing a bot designer needs.
"""

from __future__ import annotations

import re
from typing import Dict, Iterable, List, Sequence, Tuple

EMAIL = "[email]"
PHONE = "[phone]"
ORDER = "[order]"
NAME = "[name]"
PLACEHOLDERS = (EMAIL, PHONE, ORDER, NAME)

Span = Tuple[int, int]

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)
# French numbers (06 12 34 56 78, 06.12.34.56.78, 0612345678), and international ones that
# start with + or 00 (+33 6 12 34 56 78, +33 (0)6..., +44 20 7946 0958, 0044 ...).
_PHONE = re.compile(
    r"(?<![\w+])(?:"
    r"(?:\+|00)\d{1,3}[\s.-]?(?:\(0\)[\s.-]?)?\d(?:[\s.-]?\d){6,12}"
    r"|0\d(?:[\s.-]?\d{2}){4}"
    r")(?![\w])"
)
_ORDER = re.compile(r"(?<![\w])#?\d{5}(?!\d)")
_NAME_WORD = r"[A-ZÀ-ÖØ-Þ][a-zà-öø-ÿ'’-]+"
# Introductions name a person even when spaCy's small French model does not see one (and it
# never sees English names well). "je suis" and "i am" are followed by a capitalised word only
# when it is a name, or a word in `_NOT_NAMES`.
_INTRODUCTION = re.compile(
    r"(?:\bmy name is|\bmy name's|\bi am|\bi'm|\bthis is|\bje m'appelle|\bje m’appelle"
    r"|\bje suis|\bmon nom est|\bmoi c'est|\bc'est)\s+(" + _NAME_WORD
    + r"(?:\s+" + _NAME_WORD + r")?)",
    re.IGNORECASE,
)
_NOT_NAMES = {
    "bonjour", "bonsoir", "salut", "merci", "hello", "hi", "hey", "thanks", "ok", "sorry",
    "désolé", "desole", "very", "really", "not", "so", "just", "still", "here", "there",
    "déçu", "decu", "furieux", "content", "contente", "étudiant", "étudiante", "student",
    "client", "cliente", "waiting", "looking", "trying", "writing", "à", "en", "pas", "le",
    "la", "un", "une", "a", "an", "the", "in", "on", "from", "going", "unable", "quite",
}


def mask(text: str, name_spans: Iterable[Span] = ()) -> str:
    """`text` with personal data replaced by placeholders.

    `name_spans` are (start, end) character offsets of person names found by a caller (spaCy).
    """
    spans: List[Tuple[int, int, str]] = []
    for pattern, placeholder in ((_EMAIL, EMAIL), (_PHONE, PHONE), (_ORDER, ORDER)):
        spans.extend((m.start(), m.end(), placeholder) for m in pattern.finditer(text))
    spans.extend((start, end, NAME) for start, end in name_spans)
    spans.extend((start, end, NAME) for start, end in introduced_names(text))
    return _replace(text, spans)


def contact_details(text: str) -> Dict[str, str]:
    """The first e-mail address and phone number in `text` (`email`, `phone`), if any."""
    found: Dict[str, str] = {}
    for pattern, name in ((_EMAIL, "email"), (_PHONE, "phone")):
        match = pattern.search(text)
        if match:
            found[name] = match.group(0)
    return found


def emails(text: str) -> List[str]:
    """Every e-mail address in `text`."""
    return [m.group(0) for m in _EMAIL.finditer(text)]


def phones(text: str) -> List[str]:
    """Every phone number in `text`, as written."""
    return [m.group(0) for m in _PHONE.finditer(text)]


def phone_key(number: str) -> str:
    """A phone number's digits in one form: `+33 6 12 34 56 78` and `06 12 34 56 78` agree."""
    digits = "".join(ch for ch in number if ch.isdigit())
    if number.strip().startswith("00"):
        digits = digits[2:]
    elif not number.strip().startswith("+") and digits.startswith("0"):
        digits = "33" + digits[1:]  # a national number: this shop's customers are French
    if digits.startswith("330"):
        digits = "33" + digits[3:]  # +33 (0)6 ...
    return digits


def introduced_names(text: str) -> List[Span]:
    """Spans of names a customer gives when introducing themselves ("I'm Sarah Lee")."""
    found: List[Span] = []
    for match in _INTRODUCTION.finditer(text):
        words = match.group(1).split()
        kept = 0
        for word in words:
            if not word[:1].isupper() or word.lower() in _NOT_NAMES:
                break
            kept += 1
        if kept:
            start = match.start(1)
            found.append((start, start + len(" ".join(words[:kept]))))
    return found


def title_case_part(text: str, start: int, end: int) -> List[Span]:
    """The capitalised words of an entity span, as one span, or none.

    spaCy's small French model, run on short chat messages (and on English ones), often takes
    the words around a name into a `PER` entity ("Hey Tom here", "delete my"): only the
    capitalised words that are not greetings are kept.
    """
    words = [(m.start() + start, m.end() + start) for m in re.finditer(r"\S+", text[start:end])]
    keep = [(s, e) for s, e in words
            if re.fullmatch(_NAME_WORD, text[s:e].strip(",.!?;:")) is not None
            and text[s:e].strip(",.!?;:").lower() not in _NOT_NAMES]
    if not keep:
        return []
    return [(keep[0][0], keep[-1][0] + len(text[keep[-1][0]:keep[-1][1]].rstrip(",.!?;:")))]


def _replace(text: str, spans: Sequence[Tuple[int, int, str]]) -> str:
    # Overlapping finds (a name inside an e-mail address, an order number inside a phone
    # number) are merged into the first, longest span.
    out: List[str] = []
    position = 0
    for start, end, placeholder in sorted(spans, key=lambda s: (s[0], -(s[1] - s[0]))):
        if start < position:
            continue
        out.append(text[position:start])
        out.append(placeholder)
        position = end
    out.append(text[position:])
    return "".join(out)
