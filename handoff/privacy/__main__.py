"""The operator's command for data-protection requests (with `REDIS_URL` set).

    python -m handoff.privacy find   --email anna@example.com
    python -m handoff.privacy export --web SESSION_ID --out DIR [--language fr] [--reference R]
    python -m handoff.privacy erase  --messenger PSID [--reference DPO-42]
    python -m handoff.privacy audit
    python -m handoff.privacy pseudonym ID     # how the logs name a conversation or PSID

One identity per request: `--web` (a chat session id, signed or not), `--messenger` (a PSID),
`--email`, `--phone` or `--conversation`. `export` writes `<DIR>/customer-data.json` and
`<DIR>/customer-data.html` (owner-only files). `erase` closes a live conversation through Rasa
(`RASA_URL`, `RASA_TOKEN`) and tells the customer. Messages are in French with `--language fr`
or a French `LANG`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import aiohttp
from redis.asyncio import Redis

from handoff import log_privacy
from handoff.conversation import ConversationStore
from handoff.keys import Keys
from handoff.privacy import audit
from handoff.privacy.desk import Desk
from handoff.privacy.export import render_html
from handoff.privacy.finder import KINDS, BadQuery, Query
from handoff.privacy.retention import Retention, RetentionJob
from handoff.rasa_api import RasaClient, RasaUnavailable
from handoff.redis_client import connect
from handoff.relay.giveback import GiveBack
from handoff.relay.tracker import TrackerWriter
from handoff.settings import Settings, SettingsError

BY = "operator"

MESSAGES: Dict[str, Tuple[str, str]] = {
    "found": ("Found: {summary}.", "Trouvé : {summary}."),
    "nothing": ("Nothing is held about this identity.",
                "Rien n'est conservé sur cette identité."),
    "exported": ("Written: {json} and {html}.", "Écrits : {json} et {html}."),
    "erased": ("Erased: {counts}; live conversations closed: {closed}.",
               "Effacé : {counts} ; conversations en cours closes : {closed}."),
    "retention": ("Retention pass: {counts}.", "Passe de conservation : {counts}."),
    "retention_busy": ("Another process is running a retention pass; nothing done.",
                       "Un autre processus fait une passe de conservation ; rien n'est fait."),
    "bad_query": ("Give one identity: {error}.", "Donnez une identité : {error}."),
    "bad_reference": ("The reference must be one line of at most 128 characters, naming "
                      "neither the customer nor an address or phone number (the audit log "
                      "outlives the erasure).",
                      "La référence tient en une ligne de 128 caractères au plus, sans le "
                      "client, ni adresse, ni numéro (le journal d'audit survit à "
                      "l'effacement)."),
    "rasa": ("A live conversation could not be closed (the assistant server did not answer): "
             "nothing was erased. Try again.",
             "Une conversation en cours n'a pas pu être close (le serveur de l'assistant n'a "
             "pas répondu) : rien n'a été effacé. Réessayez."),
    "settings": ("Configuration error: {error}", "Erreur de configuration : {error}"),
    "no_log_key": ("Set HANDOFF_LOG_KEY to the deployment's log key (./run.sh keeps it in "
                   ".run/log-key).",
                   "Donnez dans HANDOFF_LOG_KEY la clé des journaux du déploiement (./run.sh la "
                   "garde dans .run/log-key)."),
}


def say(key: str, language: str, to_stderr: bool = False, **values: object) -> None:
    """Prints a message in the operator's language."""
    english, french = MESSAGES[key]
    print((french if language == "fr" else english).format(**values),
          file=sys.stderr if to_stderr else sys.stdout)


def parser() -> argparse.ArgumentParser:
    """The command's arguments."""
    main = argparse.ArgumentParser(prog="python -m handoff.privacy",
                                   description="Customers' data: find, export, erase (GDPR).")
    sub = main.add_subparsers(dest="command", required=True)
    for name in ("find", "export", "erase"):
        one = sub.add_parser(name)
        who = one.add_mutually_exclusive_group(required=True)
        for kind in KINDS:
            who.add_argument(f"--{kind}")
        one.add_argument("--reference", default="", help="your own request number")
        one.add_argument("--language", choices=("en", "fr"))
        if name == "export":
            one.add_argument("--out", required=True, help="directory for the two files")
    for name in ("retention", "audit"):
        sub.add_parser(name).add_argument("--language", choices=("en", "fr"))
    pseudonym = sub.add_parser("pseudonym", help="how the logs name a conversation id")
    pseudonym.add_argument("id")
    pseudonym.add_argument("--language", choices=("en", "fr"))
    return main


def main(argv: Optional[List[str]] = None) -> int:
    """Runs one request; 0 on success, 2 on bad input, 1 when it could not be done."""
    args = parser().parse_args(argv)
    language = args.language or ("fr" if os.environ.get("LANG", "").startswith("fr") else "en")
    if args.command == "pseudonym":
        key = os.environ.get(log_privacy.KEY_ENV, "")
        if not key:
            say("no_log_key", language, to_stderr=True)
            return 2
        print(log_privacy.pseudonym(args.id, key.encode()))
        return 0
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        say("settings", language, to_stderr=True, error=exc)
        return 2
    query = None
    if args.command in ("find", "export", "erase"):
        kind = next(k for k in KINDS if getattr(args, k) is not None)
        try:
            query = Query.of(kind, getattr(args, kind))
        except BadQuery as exc:
            say("bad_query", language, to_stderr=True, error=exc)
            return 2
        if audit.valid_reference(args.reference, query.value) is None:
            say("bad_reference", language, to_stderr=True)
            return 2
    return asyncio.run(_run(args, settings, query, language))


async def _run(args: argparse.Namespace, settings: Settings, query: Optional[Query],
               language: str) -> int:
    redis = connect(settings.redis_url)
    keys = Keys(settings.key_prefix)
    desk = Desk(redis, keys, Retention.from_settings(settings))
    try:
        if args.command == "audit":
            for entry in await audit.entries(redis, keys):
                print(json.dumps(entry, ensure_ascii=False))
            return 0
        if args.command == "retention":
            job = RetentionJob(redis, keys, Retention.from_settings(settings), time.time,
                               settings.retention_every)
            counts = await job.tick()
            if counts is None:
                say("retention_busy", language)
            else:
                say("retention", language, counts=_counts(counts))
            return 0
        assert query is not None
        if args.command == "find":
            customer = await desk.find(query)
            if not customer.conversations:
                say("nothing", language)
            else:
                print(json.dumps(customer.public(), ensure_ascii=False, indent=2))
            return 0
        if args.command == "export":
            return await _export(desk, query, args, language)
        return await _erase(desk, redis, keys, settings, query, args.reference, language)
    finally:
        await redis.close(close_connection_pool=True)


async def _export(desk: Desk, query: Query, args: argparse.Namespace, language: str) -> int:
    document = await desk.export(query, BY, args.reference)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True, mode=0o700)
    paths = out / "customer-data.json", out / "customer-data.html"
    texts = (json.dumps(document, ensure_ascii=False, indent=2), render_html(document, language))
    for path, text in zip(paths, texts, strict=True):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(text)
    if not document["customer"]["conversations"]:
        say("nothing", language)
    say("exported", language, json=paths[0], html=paths[1])
    return 0


async def _erase(desk: Desk, redis: Redis, keys: Keys, settings: Settings, query: Query,
                 reference: str, language: str) -> int:
    async with aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=settings.rasa_timeout)) as http:
        rasa = RasaClient(http, settings.rasa_url, settings.rasa_token)
        giveback = GiveBack(redis, keys, ConversationStore(redis, keys), rasa,
                            TrackerWriter(redis, keys, rasa, settings.tracker_write_delay))
        try:
            erased = await desk.erase(query, BY, giveback, reference)
        except RasaUnavailable:
            say("rasa", language, to_stderr=True)
            return 1
    say("erased", language, counts=_counts(erased.counts), closed=erased.closed)
    return 0


def _counts(counts: Dict[str, int]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(counts.items())) or "0"


if __name__ == "__main__":
    sys.exit(main())
