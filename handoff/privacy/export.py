"""Everything held about one customer: one JSON document, and a page a person can read.

The JSON (`format` `handoff-privacy-export/1`) is complete and machine-readable (portability,
Art. 20): every key wholly theirs with its type and value (JSON values parsed), the fields and
members of shared keys that name them, the entries of shared streams about them, and the
aggregated records that mention them (dashboard sessions and handoffs, surveys). The page
(access, Art. 15) says the same for a person, in French or English: who we know them as, each
conversation's transcript and the agents' notes, tickets, contact details, surveys, good answers,
and how long each kind of data is kept.
"""

from __future__ import annotations

import datetime as dt
import html
import json
from typing import Any, Dict, List, Optional
from zoneinfo import ZoneInfo

from redis.asyncio import Redis

from handoff.keys import RASA_KEYS, Keys
from handoff.privacy.finder import Customer, Query
from handoff.privacy.holdings import Holdings
from handoff.privacy.retention import Retention
from handoff.privacy.store import entries, read_key
from handoff.transcript import turns_from_events

FORMAT = "handoff-privacy-export/1"
ZONE = "Europe/Paris"


async def export(redis: Redis, keys: Keys, query: Query, customer: Customer,
                 held: Holdings, retention: Retention,
                 now: Optional[float] = None) -> Dict[str, Any]:
    """The JSON document of everything held about `customer`."""
    now = dt.datetime.now(dt.timezone.utc).timestamp() if now is None else now
    document: Dict[str, Any] = {
        "format": FORMAT, "exported_at": _iso(now),
        "query": {"kind": query.kind, "value": query.value},
        "customer": customer.public(), "retention_days": retention.public(),
        "keys": {}, "shared": [], "stream_entries": {},
        "dashboard": {"sessions": [], "handoffs": [], "surveys": []},
    }
    for key in sorted(held.keys):
        kind, value = await read_key(redis, key)
        document["keys"][key] = {"type": kind, "value": _parsed(value)}
    for key, member in sorted(held.members):
        document["shared"].append({"key": key, "member": member,
                                   "value": _parsed(await _member_value(redis, key, member))})
    for stream, ids in held.stream_entries.items():
        wanted = set(ids)
        document["stream_entries"][stream] = [
            {"id": entry_id, "fields": _parsed(fields)}
            async for entry_id, fields in entries(redis, stream) if entry_id in wanted]
    dashboard = document["dashboard"]
    for session in held.sessions:
        dashboard["sessions"].append(await redis.hgetall(keys.metrics_conversation(session)))
    for ticket_id in held.handoffs:
        dashboard["handoffs"].append(await redis.hgetall(keys.metrics_handoff(ticket_id)))
    for survey_id in held.surveys:
        dashboard["surveys"].append(await redis.hgetall(keys.survey(survey_id)))
    return document


async def _member_value(redis: Redis, key: str, member: str) -> Any:
    kind = await redis.type(key)
    if kind == "hash":
        return await redis.hget(key, member)
    if kind == "zset":
        return await redis.zscore(key, member)
    return True  # a set member: being there is the datum


def _parsed(value: Any) -> Any:
    """JSON held as text (trackers, tickets, notes...) as data."""
    if isinstance(value, str) and value[:1] in "{[":
        try:
            return json.loads(value)
        except ValueError:
            return value
    if isinstance(value, dict):
        return {k: _parsed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_parsed(v) for v in value]
    return value


def _iso(at: float) -> str:
    return dt.datetime.fromtimestamp(at, ZoneInfo(ZONE)).isoformat(timespec="seconds")


TEXTS: Dict[str, Dict[str, str]] = {
    "title": {"en": "Your data held by our customer service",
              "fr": "Vos données détenues par notre service client"},
    "intro": {"en": "Everything our customer service keeps about you, as of {at} (Paris time). "
                    "The attached JSON file holds the same, complete, for another service.",
              "fr": "Tout ce que notre service client conserve à votre sujet, au {at} (heure de "
                    "Paris). Le fichier JSON joint contient la même chose, en entier, pour un "
                    "autre service."},
    "nothing": {"en": "We hold nothing about this identity.",
                "fr": "Nous ne détenons rien sur cette identité."},
    "identities": {"en": "How we know you", "fr": "Comment nous vous connaissons"},
    "conversation": {"en": "Conversation {id}", "fr": "Conversation {id}"},
    "notes": {"en": "Our agents' internal notes", "fr": "Notes internes de nos conseillers"},
    "contact": {"en": "Contact details you left", "fr": "Coordonnées laissées"},
    "tickets": {"en": "Requests for a person (tickets)",
                "fr": "Demandes de mise en relation (tickets)"},
    "surveys": {"en": "Your satisfaction answers", "fr": "Vos réponses de satisfaction"},
    "good_answers": {"en": "Answers our agents kept as good examples",
                     "fr": "Réponses gardées comme exemples par nos conseillers"},
    "retention": {"en": "How long we keep it (days)", "fr": "Durée de conservation (jours)"},
    "you": {"en": "You", "fr": "Vous"}, "assistant": {"en": "Assistant", "fr": "Assistant"},
    "other": {"en": "Other records (full detail in the JSON file): {count}",
              "fr": "Autres enregistrements (détail complet dans le fichier JSON) : {count}"},
}


def _t(key: str, language: str, **values: Any) -> str:
    return TEXTS[key].get(language, TEXTS[key]["en"]).format(**values)


def render_html(document: Dict[str, Any], language: str = "en") -> str:
    """The export as a page a person can read; every stored text is escaped."""
    e, t = html.escape, lambda key, **v: html.escape(_t(key, language, **v))
    customer = document["customer"]
    parts = [f'<!DOCTYPE html>\n<html lang="{e(language)}"><head><meta charset="utf-8">'
             f'<title>{t("title")}</title></head><body style="font-family:sans-serif">'
             f'<h1>{t("title")}</h1><p>{t("intro", at=document["exported_at"])}</p>']
    if not customer["conversations"] and not document["keys"]:
        parts.append(f"<p>{t('nothing')}</p>")
    parts.append(f"<h2>{t('identities')}</h2><ul>")
    for name, values in customer.items():
        for value in values:
            parts.append(f"<li>{e(name)}: {e(str(value))}</li>")
    parts.append("</ul>")
    keys = document["keys"]
    for cid in customer["conversations"]:
        parts.append(f"<h2>{t('conversation', id=cid)}</h2>")
        parts.extend(_transcript(keys, cid, language))
        parts.extend(_list(t("notes"), [f"{n.get('agent_name')}: {n.get('text')}"
                                        for n in _value_of(keys, "conv:{" + cid + "}:notes")]))
        contact = _value_of(keys, "conv:{" + cid + "}:contact") or {}
        parts.extend(_list(t("contact"), [f"{k}: {v}" for k, v in sorted(contact.items())]))
    tickets = [v["value"] for k, v in keys.items() if ":ticket:" in k and
               isinstance(v["value"], dict)]
    parts.extend(_list(t("tickets"), [f"{_iso(float(x.get('created_at') or 0))} — "
                                      f"{x.get('summary_fr' if language == 'fr' else 'summary')}"
                                      for x in tickets]))
    parts.extend(_list(t("surveys"), [
        ", ".join(f"{k}={s.get(k)}" for k in ("csat", "nps", "comment") if s.get(k))
        for s in document["dashboard"]["surveys"]]))
    parts.extend(_list(t("good_answers"), [
        f"{m['value'].get('question')} → {m['value'].get('answer')}"
        for m in document["shared"] if isinstance(m.get("value"), dict)
        and "answer" in m["value"]]))
    parts.extend(_list(t("retention"), [f"{k}: {v}" for k, v in
                                        sorted(document["retention_days"].items())]))
    parts.append(f"<p>{t('other', count=len(keys) + len(document['shared']))}</p>")
    parts.append("</body></html>\n")
    return "".join(parts)


def _value_of(keys: Dict[str, Any], suffix: str) -> Any:
    for name, held in keys.items():
        if name.endswith(suffix):
            return held["value"]
    return []


def _transcript(keys: Dict[str, Any], cid: str, language: str) -> List[str]:
    held = [keys[name] for name in RASA_KEYS.trackers(cid) if name in keys]
    tracker = (held[0] if held else {}).get("value") or {}
    rows = []
    for turn in turns_from_events(tracker.get("events") or []):
        if turn["kind"] == "marker" or not turn.get("text"):
            continue
        who = {"customer": _t("you", language), "agent": turn.get("agent") or ""}.get(
            turn["kind"], _t("assistant", language))
        rows.append(f"<tr><td>{html.escape(_iso(float(turn.get('timestamp') or 0)))}</td>"
                    f"<td>{html.escape(who)}</td><td>{html.escape(turn['text'])}</td></tr>")
    return [f"<table>{''.join(rows)}</table>"] if rows else []


def _list(title: str, items: List[str]) -> List[str]:
    if not items:
        return []
    return [f"<h3>{title}</h3><ul>", *(f"<li>{html.escape(i)}</li>" for i in items), "</ul>"]
