"""What the processes' logs may say about customers: no address, no number, no conversation id.

Every process (`python -m handoff`, `python -m bot.serve`, `python -m actions.server`) installs
this at its edge, before anything logs. Each log record, whoever makes it (ours, Rasa's,
aiohttp's access log, a traceback), is rewritten once when it is made:
- e-mail addresses and phone numbers become `[email]` and `[phone]` (`handoff.pii`), wherever
  they come from (an exception's message, a library's repr);
- conversation ids and Messenger ids, in `conversation=…`, `psid=…`, `sender_id=…`, `room=…`
  and in `/api/conversations/<id>` paths, become pseudonyms `c-<12 hex>`: a keyed hash
  (HMAC-SHA256 with `HANDOFF_LOG_KEY`, the same in every process of a deployment), so one
  conversation's lines can still be followed across processes, and found by an operator who
  has the id (`python -m handoff.privacy pseudonym ID`), but once the customer is erased
  nothing in the logs leads back to them.
Customers' words are never logged by the product's code at the default level (INFO); Rasa's own
DEBUG logs do carry them, which is why the default is INFO (docs/privacy.md).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
import secrets
from typing import Any, Callable, Mapping, Optional

from handoff import pii

KEY_ENV = "HANDOFF_LOG_KEY"
_FIELD = re.compile(r"\b(conversation|conversation_id|psid|sender_id|sender|room)=([^\s,;)\]]+)")
_PATH = re.compile(r"(/api/conversations/)([^/\s?\"']+)")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)

_installed: Optional[Callable[..., logging.LogRecord]] = None


def key_from(env: Optional[Mapping[str, str]] = None) -> bytes:
    """The deployment's log key; a random one for this process when none is set."""
    raw = (os.environ if env is None else env).get(KEY_ENV, "")
    return raw.encode() if raw else secrets.token_bytes(32)


def pseudonym(identifier: str, key: bytes) -> str:
    """The name an id has in the logs."""
    return "c-" + hmac.new(key, identifier.encode(), hashlib.sha256).hexdigest()[:12]


def redact(text: str, key: bytes) -> str:
    """`text` with addresses and numbers masked and customer ids pseudonymised."""
    if _EMAIL.search(text):
        text = _EMAIL.sub(pii.EMAIL, text)
    phones = pii.phones(text)
    for number in sorted(set(phones), key=len, reverse=True):
        text = text.replace(number, pii.PHONE)
    text = _FIELD.sub(lambda m: f"{m.group(1)}={_name(m.group(2), key)}", text)
    return _PATH.sub(lambda m: m.group(1) + _name(m.group(2), key), text)


def _name(identifier: str, key: bytes) -> str:
    if identifier.startswith("c-") or identifier in ("None", "''", '""', "-"):
        return identifier  # already a pseudonym, or no id at all
    return pseudonym(identifier, key)


def install(key: Optional[bytes] = None) -> None:
    """Rewrites every log record of this process from now on (once per process)."""
    global _installed
    if _installed is not None:
        return
    secret = key_from() if key is None else key
    make = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a malformed log call still gets logged, as it was
            return record
        record.msg, record.args = redact(message, secret), None
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info),
                                     secret)
        if record.stack_info:
            record.stack_info = redact(record.stack_info, secret)
        return record

    logging.setLogRecordFactory(factory)
    _installed = make
