"""axe-core (npm, `tests.npm_packages`) injected into a page: its serious and critical findings."""

from __future__ import annotations

from typing import Any, Dict, List, Union

from playwright.sync_api import Frame, Page

from tests import npm_packages

SERIOUS = ("serious", "critical")


def violations(page: Union[Page, Frame]) -> List[Dict[str, Any]]:
    """The serious and critical WCAG violations axe finds in the page as it is now."""
    if not page.evaluate("typeof window.axe === 'object'"):
        # Evaluated by the browser's automation API: the page's own script policy (no inline
        # scripts) stays as it is in production.
        page.evaluate(npm_packages.path("axe-core", "axe.min.js").read_text() + "\n;0")
    found = page.evaluate("""() => axe.run(document, {
        runOnly: {type: 'tag',
                  values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']},
        resultTypes: ['violations']}).then(r => r.violations)""")
    return [{"id": v["id"], "impact": v["impact"], "help": v["help"],
             "nodes": [n["target"] for n in v["nodes"]][:5]}
            for v in found if v.get("impact") in SERIOUS]
