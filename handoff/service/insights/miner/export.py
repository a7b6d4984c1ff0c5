"""Drafts for a bot designer: a group as an NLU intent in Rasa's YAML, and a draft FAQ answer.

The draft answer is, first, the replies agents marked as good answers to the group's questions
(`handoff.service.insights.knowledge`), then the reply agents gave most often in the group's
conversations. All
text is masked (`handoff.pii`). The file is a draft to review, never loaded as it is: its header
says so, and the intent and response names start with `ask_` / `utter_ask_` to be renamed.
"""

from __future__ import annotations

import datetime
import re
from typing import Dict, List, Sequence

import yaml

from handoff import pii
from handoff.service.insights.knowledge import GoodAnswer
from handoff.service.insights.miner.grouping import Group
from handoff.service.insights.miner.text import analyse


def attach_good_answers(groups: Sequence[Group], pairs: Sequence[GoodAnswer]
                        ) -> List[Dict[str, str]]:
    """Adds each marked pair to the group its question belongs to; returns the pairs of none.

    A pair belongs to a group whose conversations include the pair's and whose messages include
    its question; otherwise to the group sharing most lemmas with the question (at least one).
    """
    unplaced: List[Dict[str, str]] = []
    for pair in pairs:
        entry = candidate(pair)
        group = _by_conversation(groups, pair, entry["question"]) or _by_lemmas(groups, pair)
        if group is None:
            unplaced.append(entry)
        else:
            group.good_answers.append(entry)
    return unplaced


def candidate(pair: GoodAnswer) -> Dict[str, str]:
    """A marked pair as a candidate FAQ entry, masked."""
    return {"question": _mask(pair.question), "answer": _mask(pair.answer), "agent": pair.agent,
            "conversation_id": pair.conversation_id, "pair_id": pair.id}


def draft_yaml(groups: Sequence[Group], intent: str = "", max_examples: int = 50) -> str:
    """One draft NLU intent (examples of every group given) and its draft FAQ response."""
    if not groups:
        raise ValueError("no group to export")
    name = _identifier(intent or groups[0].intent_name)
    examples: List[str] = []
    for group in groups:
        for text in group.messages:
            line = " ".join(pii.mask(text).split())
            if line.lower() not in {e.lower() for e in examples}:
                examples.append(line)
    answers = [pair["answer"] for group in groups for pair in group.good_answers]
    answers += [reply for group in groups for reply, _ in group.agent_replies[:1]]
    # Masked here again (masking is idempotent): whatever a caller put in a group, the file
    # that leaves the system carries no personal data.
    answers = list(dict.fromkeys(_mask(a) for a in answers if a))
    header = [
        "# DRAFT from `python -m handoff.service.insights.miner export`, "
        f"{datetime.date.today().isoformat()}:",
        "# review it (rename the intent, drop examples that belong elsewhere, write the answer",
        "# in the bot's voice) before moving it into data/nlu/ and domain.yml.",
    ]
    for group in groups:
        header.append(f"# group {group.id} ({group.language}): {group.volume} messages, "
                      f"{len(group.conversations)} conversations, handling time "
                      f"{round(group.handling_time_total)} s; typical: "
                      + " | ".join(group.typical))
    if not answers:
        header.append("# No agent reply in these conversations: write the FAQ answer.")
    body = "\n".join(f"    - {_example(e)}" for e in examples[:max_examples])
    document = "\n".join(header) + f'\nversion: "3.1"\nnlu:\n- intent: {name}\n  examples: |\n'
    document += body + "\n"
    if answers:
        responses = {f"utter_{name}": [{"text": a} for a in answers]}
        document += yaml.safe_dump({"responses": responses}, allow_unicode=True,
                                   sort_keys=False, width=100)
    return document


def _by_conversation(groups: Sequence[Group], pair: GoodAnswer, question: str) -> Group | None:
    for group in groups:
        if pair.conversation_id in group.conversations and question in group.messages:
            return group
    return None


def _by_lemmas(groups: Sequence[Group], pair: GoodAnswer) -> Group | None:
    # The pair's language is not stored: the question's lemmas in both languages are tried.
    words = set()
    for analysed in analyse([pair.question, pair.question], ["fr", "en"]):
        words.update(analysed.lemmas)
    best, best_score = None, 0
    for group in groups:
        terms = {w for term in group.terms for w in term.split()}
        score = len(words & terms)
        if score > best_score:
            best, best_score = group, score
    return best


def _mask(text: str) -> str:
    names = analyse([text], ["fr"])[0].names
    return pii.mask(text, names)


def _example(text: str) -> str:
    # Rasa reads `[text](entity)` and `[text]{...}` as entity annotations: a placeholder right
    # before a bracket is kept apart from it.
    for placeholder in pii.PLACEHOLDERS:
        text = text.replace(placeholder + "(", placeholder + " (")
        text = text.replace(placeholder + "{", placeholder + " {")
    return text


def _identifier(name: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9_]+", "_", name).strip("_").lower()
    if not cleaned:
        raise ValueError(f"not a usable intent name: {name!r}")
    return cleaned
