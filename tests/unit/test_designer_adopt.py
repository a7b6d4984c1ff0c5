"""From the miner to the assistant (`python -m designer adopt`): a group's draft becomes a
change that the designer's check accepts, or nothing is written."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path
from typing import List

import pytest

from designer.adopt import AdoptError, change, from_draft, propose
from designer.check import run
from handoff.service.insights.miner.export import draft_yaml
from handoff.service.insights.miner.grouping import Group
from tests.designer_project import copy_project

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return copy_project(tmp_path / "copy")

ENGLISH = [
    "do you sell gift cards", "can I buy a gift card for my sister", "how do gift cards work",
    "I'd like to offer a gift card to a friend", "where can I get a gift voucher",
    "is there a gift card I can send by email", "what amounts do your gift cards come in",
    "can I pay with a gift card", "my gift card code doesn't work", "how long is a gift card "
    "valid", "can I use two gift cards on one order", "what's the balance on my gift card",
    "do gift cards expire", "can I get a gift card for [order]", "gift card for a birthday "
    "please", "how do I use my gift voucher online",
]
FRENCH = [
    "vous vendez des cartes cadeaux ?", "je voudrais offrir une carte cadeau à ma soeur",
    "comment marche la carte cadeau", "où acheter un bon d'achat chez vous",
    "est-ce que je peux payer avec une carte cadeau", "le code de ma carte cadeau ne marche pas",
    "quelle est la durée de validité d'une carte cadeau", "combien il reste sur ma carte cadeau",
    "je peux utiliser deux cartes cadeaux pour une commande ?", "carte cadeau pour un "
    "anniversaire svp", "les cartes cadeaux ont une date limite ?", "comment utiliser mon bon "
    "d'achat sur le site", "une carte cadeau de 50 euros c'est possible ?", "je veux une carte "
    "cadeau envoyée par mail", "la carte cadeau est valable en magasin ?", "j'ai reçu une carte "
    "cadeau, comment je fais",
]
ANSWER_EN = ("Our gift cards go from 10 to 500 euros, are valid for one year, and can be used "
             "online and in our shops.")
ANSWER_FR = ("Nos cartes cadeaux vont de 10 à 500 euros, sont valables un an et s'utilisent "
             "sur le site et dans nos magasins.")


def group(gid: str, language: str, messages: List[str], reply: str) -> Group:
    return Group(id=gid, language=language, messages=messages, conversations=["c1", "c2"],
                 typical=messages[:3], terms=["gift", "card"], handling_time_total=600.0,
                 handling_time_median=120.0, agent_replies=[(reply, 3)])


def draft(path: Path, french: bool = True, answers: bool = True) -> Path:
    """A draft exported by the miner (insights/miner/export.py) from one or two groups."""
    groups = [group("3", "en", ENGLISH, ANSWER_EN if answers else "")]
    if french:
        groups.append(group("7", "fr", FRENCH, ANSWER_FR if answers else ""))
    path.write_text(draft_yaml(groups), encoding="utf-8")
    return path


def adopt(project: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "designer", "adopt", *args, "--root",
                           str(project)], cwd=ROOT, capture_output=True, text=True, timeout=120)


def tree_digest(project: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in project.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(project)).encode() + path.read_bytes())
    return digest.hexdigest()


def test_an_accepted_group_becomes_a_checked_change(project: Path, tmp_path: Path) -> None:
    file = draft(tmp_path / "draft.yml")
    proc = adopt(project, str(file), "--intent", "gift_cards", "--team", "billing",
                 "--patch", str(tmp_path / "gift.diff"), "--write")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert run(project) == []
    domain = (project / "domain.yml").read_text(encoding="utf-8")
    assert "  - gift_cards:\n      ignore_entities:" in domain
    assert ANSWER_EN in domain and ANSWER_FR in domain
    nlu = (project / "data/nlu/gift_cards.yml").read_text(encoding="utf-8")
    assert "do you sell gift cards" in nlu and "vous vendez des cartes cadeaux ?" in nlu
    # The miner's placeholder became an annotated sample value.
    assert "[10234](order_number)" in nlu and "[order]" not in nlu
    assert "- action: utter_gift_cards" in (project / "data/rules/gift_cards.yml").read_text()
    assert (project / "tests/stories/test_gift_cards.yml").exists()
    assert "topics: [payment_methods, gift_cards]" in (project / "handoff/teams.yml").read_text()


def test_the_patch_applies_to_a_clean_checkout(project: Path, tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q", str(project)], check=True)
    subprocess.run(["git", "-C", str(project), "add", "-A"], check=True)
    file = draft(tmp_path / "draft.yml")
    proc = adopt(project, str(file), "--intent", "gift_cards", "--patch",
                 str(tmp_path / "gift.diff"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "nlu/gift_cards.yml" not in {p.name for p in (project / "data/nlu").iterdir()}
    applied = subprocess.run(["git", "-C", str(project), "apply", str(tmp_path / "gift.diff")],
                             capture_output=True, text=True)
    assert applied.returncode == 0, applied.stderr
    assert run(project) == []


def test_one_language_only_writes_nothing(project: Path, tmp_path: Path) -> None:
    before = tree_digest(project)
    file = draft(tmp_path / "draft.yml", french=False)
    proc = adopt(project, str(file), "--intent", "gift_cards", "--write", "--answer-fr",
                 ANSWER_FR, "--patch", str(tmp_path / "gift.diff"))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "data/nlu/gift_cards.yml:5: intent `gift_cards` has 0 French examples" in proc.stdout
    assert "nothing written" in proc.stdout
    assert tree_digest(project) == before and not (tmp_path / "gift.diff").exists()


def test_a_missing_answer_is_a_stub_the_check_rejects(project: Path, tmp_path: Path) -> None:
    before = tree_digest(project)
    file = draft(tmp_path / "draft.yml", answers=False)
    proc = adopt(project, str(file), "--intent", "gift_cards", "--write")
    assert proc.returncode == 1 and "utter_gift_cards is a stub" in proc.stdout, proc.stdout
    assert tree_digest(project) == before
    proc = adopt(project, str(file), "--intent", "gift_cards", "--write",
                 "--answer-en", ANSWER_EN, "--answer-fr", ANSWER_FR)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_names_that_cannot_be_used(project: Path, tmp_path: Path) -> None:
    text = draft(tmp_path / "draft.yml").read_text(encoding="utf-8")
    with pytest.raises(AdoptError, match="already in domain.yml"):
        change(project, from_draft(text, project, "returns"))
    with pytest.raises(AdoptError, match="lowercase"):
        from_draft(text, project, "Gift Cards!")
    with pytest.raises(AdoptError, match="no team"):
        change(project, from_draft(text, project, "gift_cards", team="nobody"))
    proc = adopt(project, str(tmp_path / "missing.yml"))
    assert proc.returncode == 2 and "error:" in proc.stderr


def test_what_the_miner_page_gets(project: Path, tmp_path: Path) -> None:
    """The console's "Accept as an intent" (GET /api/miner/groups/{group}/change) shows this."""
    before = tree_digest(project)
    good = propose(project, draft(tmp_path / "both.yml").read_text(), "gift_cards", "billing")
    assert good["passed"] is True and good["findings"] == []
    assert "+  - gift_cards:\n" in good["patch"]
    assert "+++ b/data/nlu/gift_cards.yml" in good["patch"]
    assert good["answered_in"] == ["en", "fr"]
    bad = propose(project, draft(tmp_path / "en.yml", french=False).read_text(), "gift_cards")
    assert bad["passed"] is False and bad["patch"] is None
    assert {(f["path"], f["line"]) for f in bad["findings"]} >= {("data/nlu/gift_cards.yml", 5)}
    assert tree_digest(project) == before  # proposing writes nothing
