"""Order numbers only in the shop's format and context (issue 15), English and French.

The candidates are found exactly as Rasa's RegexEntityExtractor finds them, with the
`order_number` regex of data/nlu/orders.yml; the guard then keeps or drops each one.
"""

import re
from pathlib import Path

import pytest
import yaml

from bot.order_numbers import keep_plausible, plausible_order_number

ROOT = Path(__file__).resolve().parents[2]


def _order_regexes():
    content = yaml.safe_load((ROOT / "data" / "nlu" / "orders.yml").read_text(encoding="utf-8"))
    [block] = [b for b in content["nlu"] if b.get("regex") == "order_number"]
    return [line[2:] for line in block["examples"].splitlines() if line.startswith("- ")]


def order_numbers(text):
    """What the NLU pipeline keeps as order numbers in `text`."""
    entities = [{"entity": "order_number", "value": m.group(0), "start": m.start(),
                 "end": m.end()}
                for pattern in _order_regexes() for m in re.finditer(pattern, text)]
    return [e["value"] for e in keep_plausible(text, entities)]


@pytest.mark.parametrize("text,expected", [
    ("where is my order 10234?", ["10234"]),
    ("10234", ["10234"]),
    ("it's 45678", ["45678"]),
    ("10236 I think", ["10236"]),
    ("here you go: 10238", ["10238"]),
    ("#20411", ["20411"]),
    ("order no. 45678", ["45678"]),
    ("I have the number, it's 55555", ["55555"]),
    ("oh sorry, it's 10235 not the other one", ["10235"]),
    ("ma commande 10234 n'est pas arrivée", ["10234"]),
    ("où en est ma commande n°10234 ?", ["10234"]),
    ("commande 10234 Merci", ["10234"]),
    ("c'est la 31007", ["31007"]),
    ("10234 Thanks", ["10234"]),
    ("je veux un conseiller pour la commande 31007", ["31007"]),
])
def test_order_numbers_are_kept(text, expected):
    assert order_numbers(text) == expected


@pytest.mark.parametrize("text", [
    # Postcodes.
    "33000 Bordeaux",
    "j'habite au 3 avenue Foch, 33000 Bordeaux",
    "8 rue des Lilas 69003 lyon",
    "code postal 75011",
    "my zip code is 90210",
    "send it to 12 Park Street, 10001 New York",
    "75011 PARIS",
    "13001 Marseille cedex",
    # Phone numbers and their fragments.
    "call me on 01234 567890",
    "mon téléphone : 06123 45678",
    "+33 61234 5678",
    "my phone number is 07700 90012",
    # Amounts.
    "I paid 12000 € for nothing",
    "ça m'a coûté 15000 euros",
    "$10000 gone",
    "a refund of 12345.50",
    "un virement de 25000 EUR",
    # Dates, times and longer figures.
    "delivered on 12/10234",
    "ref 10234-2",
    "tracking 1234567890",
    "le 2025-06-12",
])
def test_other_numbers_are_not_order_numbers(text):
    assert order_numbers(text) == []


def test_only_five_digits_are_order_numbers():
    assert not plausible_order_number("order 1023", 6, 10)
    assert plausible_order_number("order 10234", 6, 11)


def test_other_entities_are_left_alone():
    entities = [{"entity": "phone", "value": "+33 6 12 34 56 78", "start": 0, "end": 17},
                {"entity": "order_number", "value": "33000", "start": 0, "end": 5}]
    assert keep_plausible("33000 Bordeaux", entities) == entities[:1]
