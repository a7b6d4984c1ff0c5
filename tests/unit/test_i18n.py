"""Every string of the console and the chat page exists in English and in French."""

import re
from pathlib import Path

import yaml

from handoff.ticket import TOPIC_LABELS, is_topic

STATIC = Path(__file__).resolve().parents[2] / "handoff" / "service" / "static"
KEY = re.compile(r"^\s+'([\w.]+)':", re.MULTILINE)


def _tables():
    source = (STATIC / "i18n.js").read_text(encoding="utf-8")
    english = source[source.index("    en: {"):source.index("    fr: {")]
    french = source[source.index("    fr: {"):]
    french = french[:french.index("\n    }\n")]
    return KEY.findall(english), KEY.findall(french)


def test_same_keys_in_both_languages():
    english, french = _tables()
    assert len(english) > 100
    assert sorted(english) == sorted(french)
    assert len(set(english)) == len(english), "a key is defined twice"


def test_keys_used_by_the_pages_exist():
    english, _ = _tables()
    used = set()
    scripts = sorted((STATIC / "console").glob("*.js")) + [STATIC / "chat" / "chat.js"]
    assert STATIC / "console" / "core.js" in scripts
    for script in scripts:
        used |= set(re.findall(r"\bt\('([\w.]+)'", script.read_text(encoding="utf-8")))
    assert used, "no t('...') call found"
    # t('signal.' + name) builds keys at run time: such a prefix must start some keys.
    prefixes = {key for key in used if key.endswith(".")}
    assert [p for p in prefixes if not any(k.startswith(p) for k in english)] == []
    assert sorted(used - prefixes - set(english)) == []


def test_the_summary_names_topics_as_the_console_does():
    """Every topic of the domain has a label, the same in the ticket's summary and the console."""
    source = (STATIC / "i18n.js").read_text(encoding="utf-8")
    english = source[source.index("    en: {"):source.index("    fr: {")]
    french = source[source.index("    fr: {"):]
    label = re.compile(r"'intent\.(\w+)': '((?:[^'\\]|\\.)*)'")
    console = {name: (en, dict(label.findall(french)).get(name))
               for name, en in label.findall(english)}
    domain = yaml.safe_load((STATIC.parents[2] / "domain.yml").read_text(encoding="utf-8"))
    topics = [i if isinstance(i, str) else next(iter(i)) for i in domain["intents"]]
    topics = [i for i in topics if is_topic(i)]
    assert topics and sorted(TOPIC_LABELS) == sorted(topics)
    assert {name: console.get(name) for name in topics} == TOPIC_LABELS
