"""Responses: an English default and a French variant, saying the same thing.

Same `{variables}` (an action that fills one fills it in both languages), same button payloads
in the same order (titles are translated, what a button does is not), and each variant reads
as its language to the assistant's detector (a text it cannot place is not reported).
"""

from __future__ import annotations

import re
from typing import Any, List, Optional, Set

from designer.language import language_of
from designer.project import Finding, Project, line_of

FRENCH = [{"type": "slot", "name": "language", "value": "fr"}]
_VARIABLE = re.compile(r"{(\w+)}")
# What `designer adopt` writes where the draft has no answer in a language: never shipped.
STUB_MARK = "TODO"


def variables(variant: Any) -> Set[str]:
    """The `{names}` of a variant's text."""
    return set(_VARIABLE.findall(str(variant.get("text") or "")))


def payloads(variant: Any) -> List[str]:
    """The button payloads of a variant, in order."""
    return [str(b.get("payload")) for b in variant.get("buttons") or [] if isinstance(b, dict)]


def _is_french(variant: Any) -> bool:
    condition = variant.get("condition")
    return condition is not None and [dict(c) for c in condition] == FRENCH


def _fr_snippet(name: str, english: Optional[Any]) -> str:
    text = str(english.get("text")) if english is not None else "..."
    return (f"add to {name} in domain.yml:\n- condition:\n    - type: slot\n      name: language"
            f"\n      value: fr\n  text: \"<the French for: {text[:60]}...>\"")


def check(project: Project) -> List[Finding]:
    """Every response in both languages, alike."""
    findings: List[Finding] = []
    responses = project.domain.data.get("responses") if project.domain else None
    for name, variants in (responses or {}).items():
        line = line_of(responses, name)
        findings += _one(project, str(name), variants or [], line)
    return findings


def _one(project: Project, name: str, variants: Any, line: int) -> List[Finding]:
    english = [v for v in variants if isinstance(v, dict) and "condition" not in v]
    french = [v for v in variants if isinstance(v, dict) and _is_french(v)]
    others = [i for i, v in enumerate(variants)
              if not isinstance(v, dict) or ("condition" in v and not _is_french(v))]
    findings = []
    if len(english) != 1:
        findings.append(Finding("domain.yml", line, f"response {name} has {len(english)} English "
                                "defaults (variants without a condition); it needs exactly one",
                                "keep one variant without `condition:`, in English"))
    if len(french) != 1:
        findings.append(Finding("domain.yml", line, f"response {name} has {len(french)} French "
                                "variants; it needs exactly one",
                                _fr_snippet(name, english[0] if english else None)))
    for index in others:
        findings.append(Finding("domain.yml", line_of(variants, index),
                                f"response {name}: a variant with another condition than "
                                "`language: fr`", "one English default and one French variant "
                                "only (the language slot chooses)"))
    for index, variant in enumerate(variants):
        if isinstance(variant, dict) and STUB_MARK in str(variant.get("text") or ""):
            findings.append(Finding("domain.yml", line_of(variants, index),
                                    f"response {name} is a stub ({STUB_MARK})",
                                    "write what the bot says, in the variant's language"))
    if len(english) == 1 and len(french) == 1:
        findings += _alike(project, name, english[0], french[0],
                           line_of(variants, list(variants).index(french[0])))
    return findings


def _alike(project: Project, name: str, en: Any, fr: Any, fr_line: int) -> List[Finding]:
    findings = []
    if variables(en) != variables(fr):
        findings.append(Finding(
            "domain.yml", fr_line, f"response {name}: the English variant uses "
            f"{sorted(variables(en))} and the French one {sorted(variables(fr))}",
            "use the same {variables} in both variants"))
    if payloads(en) != payloads(fr):
        findings.append(Finding(
            "domain.yml", fr_line, f"response {name}: the button payloads differ: English "
            f"{payloads(en)}, French {payloads(fr)}",
            "give both variants the same payloads in the same order (translate the titles only)"))
    for variant, want, line in ((en, "en", line_of(en)), (fr, "fr", fr_line)):
        got = language_of(str(variant.get("text") or ""), project.root)
        if got is not None and got != want:
            label = "English default" if want == "en" else "French variant"
            findings.append(Finding("domain.yml", line, f"response {name}: the {label} reads "
                                    f"as {'French' if got == 'fr' else 'English'}",
                                    "put the English text in the default and the French text "
                                    "in the `language: fr` variant"))
    return findings
