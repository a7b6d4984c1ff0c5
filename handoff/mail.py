"""E-mail to customers: the transcript of their conversation, rendered and sent through SMTP.

This module owns mail: its settings (`SMTP_*` environment variables), the rendering of a
transcript as plain text and HTML in the customer's language, and the sending. The transcript is
read from the Rasa tracker's events with `handoff.transcript`, so it is the one record: customer,
bot and agent turns, agents named.

Sending uses the standard library's `smtplib` in a worker thread, with a bounded timeout: the
action server's event loop is never blocked, and a mail server that is down or slow gives a
`MailError` that the caller turns into a clear message to the customer.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import html
import logging
import os
import smtplib
import ssl
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any, Dict, Iterable, List, Mapping, Optional
from zoneinfo import ZoneInfo

from handoff.transcript import turns_from_events

logger = logging.getLogger(__name__)

DEFAULT_TIMEZONE = "Europe/Paris"


class MailError(RuntimeError):
    """The message could not be sent (not configured, server down, refused, timed out)."""


@dataclass(frozen=True)
class MailSettings:
    """Where and how to send mail. No `SMTP_HOST` or no `SMTP_FROM`: mail is off."""

    host: str = ""
    port: int = 25
    sender: str = ""
    username: str = ""
    password: str = ""
    starttls: bool = False
    timeout: float = 10.0

    @property
    def configured(self) -> bool:
        """Whether there is a server to send to and an address to send from."""
        return bool(self.host and self.sender)

    @classmethod
    def from_env(cls, env: Optional[Mapping[str, str]] = None) -> "MailSettings":
        """The settings from the `SMTP_*` environment variables.

        `SMTP_HOST`, `SMTP_PORT`, `SMTP_FROM`, `SMTP_USERNAME`, `SMTP_PASSWORD`,
        `SMTP_STARTTLS` (0/1) and `SMTP_TIMEOUT` (seconds).
        """
        env = os.environ if env is None else env
        return cls(host=env.get("SMTP_HOST", ""),
                   port=_number(env, "SMTP_PORT", cls.port, int),
                   sender=env.get("SMTP_FROM", ""),
                   username=env.get("SMTP_USERNAME", ""),
                   password=env.get("SMTP_PASSWORD", ""),
                   starttls=env.get("SMTP_STARTTLS", "0") in ("1", "true", "yes"),
                   timeout=_number(env, "SMTP_TIMEOUT", cls.timeout, float))


def _number(env: Mapping[str, str], name: str, default: Any, cast: Any) -> Any:
    raw = env.get(name) or ""
    try:
        return cast(raw) if raw else default
    except ValueError:
        # A bad value must not stop the action server: mail is then off and says why.
        logger.error("mail.settings.invalid %s=%r", name, raw)
        return default


TEXTS: Dict[str, Dict[str, str]] = {
    "subject": {"en": "Transcript of your conversation with our customer service",
                "fr": "Transcription de votre conversation avec notre service client"},
    "title": {"en": "Your conversation with our customer service",
              "fr": "Votre conversation avec notre service client"},
    "intro": {"en": "Here is the transcript of your conversation, as you asked. "
                    "Times are {zone} time.",
              "fr": "Voici la transcription de votre conversation, comme vous l'avez demandé. "
                    "Les heures sont celles du fuseau {zone}."},
    "you": {"en": "You", "fr": "Vous"},
    "assistant": {"en": "Assistant", "fr": "Assistant"},
    "agent": {"en": "{agent} (customer service)", "fr": "{agent} (service client)"},
    "attachment": {"en": "[attachment]", "fr": "[pièce jointe]"},
    "footer": {"en": "You received this e-mail because you asked for it in our chat. "
                     "To reply to us, write to us in the chat.",
               "fr": "Vous recevez cet e-mail parce que vous l'avez demandé dans notre chat. "
                     "Pour nous répondre, écrivez-nous dans le chat."},
}

_MONTHS = {
    "en": ("January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December"),
    "fr": ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août",
           "septembre", "octobre", "novembre", "décembre"),
}


def _text(key: str, language: str, **values: str) -> str:
    texts = TEXTS[key]
    return texts.get(language, texts["en"]).format(**values)


@dataclass(frozen=True)
class Line:
    """One line of the e-mailed transcript."""

    day: str     # the date, in words, in the customer's language
    time: str    # HH:MM in the transcript's time zone
    speaker: str  # "" for notices (an agent joined, the conversation closed...)
    text: str
    kind: str    # customer, bot, agent, notice


def current_session(events: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """The events since the last `session_started`: this conversation, not earlier ones."""
    starts = [i for i, e in enumerate(events) if e.get("event") == "session_started"]
    return events[starts[-1]:] if starts else events


def transcript_lines(events: Iterable[Dict[str, Any]], language: str,
                     zone: str = DEFAULT_TIMEZONE) -> List[Line]:
    """The conversation's turns as lines: who, when, what, in the customer's language."""
    tz = ZoneInfo(zone)
    lines: List[Line] = []
    last_buttons: List[Dict[str, Any]] = []
    for turn in turns_from_events(current_session(list(events))):
        if turn["kind"] == "marker":
            continue
        when = dt.datetime.fromtimestamp(float(turn.get("timestamp") or 0), tz)
        day, time = _day(when, language), when.strftime("%H:%M")
        text = turn.get("text") or ""
        if turn["kind"] == "customer":
            # A button press is logged as its payload ("/affirm"): show what the button said.
            if turn.get("payload"):
                text = next((b.get("title") or "" for b in last_buttons
                             if b.get("payload") == turn["payload"]), text)
            if turn.get("attachment"):
                text = " ".join(filter(None, [text, _text("attachment", language)]))
            lines.append(Line(day, time, _text("you", language), text, "customer"))
        elif turn.get("notice"):
            lines.append(Line(day, time, "", text, "notice"))
        elif turn["kind"] == "agent":
            lines.append(Line(day, time, _text("agent", language, agent=turn["agent"]), text,
                              "agent"))
        else:
            lines.append(Line(day, time, _text("assistant", language), text, "bot"))
        if turn["kind"] != "customer":
            last_buttons = turn.get("buttons") or []
    return [line for line in lines if line.text]


def _day(when: dt.datetime, language: str) -> str:
    months = _MONTHS.get(language, _MONTHS["en"])
    if language == "fr":
        day = "1er" if when.day == 1 else str(when.day)
        return f"{day} {months[when.month - 1]} {when.year}"
    return f"{when.day} {months[when.month - 1]} {when.year}"


def render_text(lines: List[Line], language: str, zone: str) -> str:
    """The plain-text part."""
    out = [_text("title", language), "", _text("intro", language, zone=zone)]
    day = None
    for line in lines:
        if line.day != day:
            day = line.day
            out += ["", f"— {day} —"]
        if line.speaker:
            out.append(f"[{line.time}] {line.speaker}: {line.text}")
        else:
            out.append(f"[{line.time}] ({line.text})")
    out += ["", "--", _text("footer", language)]
    return "\n".join(out) + "\n"


def render_html(lines: List[Line], language: str, zone: str) -> str:
    """The HTML part.

    Every piece of text is escaped: what a customer (or an agent) typed is shown as text and can
    never become markup in the customer's mail reader.
    """
    e = html.escape
    rows: List[str] = []
    day = None
    for line in lines:
        if line.day != day:
            day = line.day
            rows.append(f'<tr><td colspan="3" style="padding:12px 0 4px;color:#555;'
                        f'font-weight:bold">{e(day)}</td></tr>')
        text = e(line.text).replace("\n", "<br>")
        if line.speaker:
            colour = {"customer": "#1a4d8f", "agent": "#1d6b3a"}.get(line.kind, "#444")
            rows.append(f'<tr class="{line.kind}"><td style="color:#777;vertical-align:top;'
                        f'padding-right:8px">{e(line.time)}</td><td style="color:{colour};'
                        f'font-weight:bold;vertical-align:top;padding-right:8px;'
                        f'white-space:nowrap">{e(line.speaker)}</td><td>{text}</td></tr>')
        else:
            rows.append(f'<tr class="notice"><td style="color:#777;vertical-align:top">'
                        f'{e(line.time)}</td><td colspan="2" style="color:#777;'
                        f'font-style:italic">{text}</td></tr>')
    return (f'<!DOCTYPE html>\n<html lang="{e(language)}"><head><meta charset="utf-8">'
            f'<title>{e(_text("title", language))}</title></head>'
            f'<body style="font-family:sans-serif;font-size:14px;color:#222">'
            f'<h1 style="font-size:18px">{e(_text("title", language))}</h1>'
            f'<p>{e(_text("intro", language, zone=zone))}</p>'
            f'<table style="border-collapse:collapse">{"".join(rows)}</table>'
            f'<p style="color:#777;font-size:12px">{e(_text("footer", language))}</p>'
            f'</body></html>\n')


def valid_address(address: Optional[str]) -> Optional[str]:
    """`address` if it is one plain e-mail address (no display name, no header tricks)."""
    if not address or any(c in address for c in "\r\n<>,;\"") or address.count("@") != 1:
        return None
    try:
        parsed = Address(addr_spec=address.strip())
    except (ValueError, IndexError, TypeError):
        return None
    return parsed.addr_spec if parsed.domain and parsed.username else None


def transcript_message(events: Iterable[Dict[str, Any]], language: str, to: str,
                       sender: str, zone: str = DEFAULT_TIMEZONE,
                       now: Optional[float] = None) -> EmailMessage:
    """The transcript as a multipart/alternative e-mail: text/plain and text/html."""
    language = language if language in ("en", "fr") else "en"
    lines = transcript_lines(events, language, zone)
    message = EmailMessage()
    message["Subject"] = _text("subject", language)
    message["From"] = sender
    message["To"] = to
    message["Date"] = format_datetime(dt.datetime.fromtimestamp(
        now if now is not None else dt.datetime.now().timestamp(), ZoneInfo(zone)))
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    message["Content-Language"] = language
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(render_text(lines, language, zone))
    message.add_alternative(render_html(lines, language, zone), subtype="html")
    return message


async def send(message: EmailMessage, settings: MailSettings) -> None:
    """Sends `message` through the configured SMTP server; `MailError` if it could not."""
    if not settings.configured:
        raise MailError("mail is not configured (SMTP_HOST and SMTP_FROM)")
    try:
        # asyncio.wait_for bounds the whole exchange; smtplib's own timeout bounds each
        # socket operation, so the worker thread also ends.
        await asyncio.wait_for(asyncio.to_thread(_send_blocking, message, settings),
                               settings.timeout * 3)
    except (OSError, smtplib.SMTPException, asyncio.TimeoutError) as exc:
        raise MailError(f"{type(exc).__name__}: {exc}") from exc


def _send_blocking(message: EmailMessage, settings: MailSettings) -> None:
    with smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout) as smtp:
        if settings.starttls:
            smtp.starttls(context=ssl.create_default_context())
        if settings.username:
            smtp.login(settings.username, settings.password)
        smtp.send_message(message)
