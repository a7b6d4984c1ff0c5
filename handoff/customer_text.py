r"""What a customer's message must be before any channel takes it: one rule for every door.

The web chat, Messenger and the REST channel check a customer's text here before anything else
(journal, the live path, Rasa), and refuse with one of these codes:
- `empty_message`: no text (or only spaces) and nothing attached;
- `message_too_long`: more than `MAX_MESSAGE_CHARS` characters (Rasa's NLU grows with the square
  of a message's length: one 100,000-character message froze the bot for everyone);
- `bad_text`: a lone UTF-16 surrogate (`"\\ud800"` in JSON): not text; it could not be stored
  or shown, and would be lost on the way.

A customer's text that starts with `/` is Rasa's syntax for an intent with entities
(`/request_human`, `/inform{"order_number": "10234"}`). Only the payload of a button the bot
has just offered may be taken as such; anything else typed with a leading `/` is given to the
NLU as plain words (`neutralise`), so that a customer can neither trigger an intent meant for
the agents' flows (`EXTERNAL_handback_*`) nor set slots.

No Rasa import: every process may load it.
"""

from __future__ import annotations

import re
from typing import Any, Collection, Dict, Iterable, List, Mapping, Optional

MAX_MESSAGE_CHARS = 4000  # as the chat page's input allows (and the agents' replies)

EMPTY, TOO_LONG, BAD_TEXT = "empty_message", "message_too_long", "bad_text"

# What a customer is told, in their language (code -> language -> text).
NOTICES: Dict[str, Dict[str, str]] = {
    TOO_LONG: {
        "en": f"Your message is too long for us to read ({MAX_MESSAGE_CHARS:,} characters at "
              "most): please shorten it, or send it in several parts.",
        "fr": f"Votre message est trop long pour être lu ({MAX_MESSAGE_CHARS:,} caractères au "
              .replace(",", "\u202f")
              + "plus) : raccourcissez-le, ou envoyez-le en plusieurs fois.",
    },
    EMPTY: {
        "en": "Your message is empty: nothing was sent.",
        "fr": "Votre message est vide : rien n'a été envoyé.",
    },
    BAD_TEXT: {
        "en": "Your message contains characters we cannot read: nothing was sent. Please type "
              "it again.",
        "fr": "Votre message contient des caractères illisibles : rien n'a été envoyé. "
              "Retapez-le, s'il vous plaît.",
    },
}

_SURROGATE = re.compile("[\ud800-\udfff]")
_COMMAND = re.compile(r"^[\s/]+")


def has_lone_surrogate(text: str) -> bool:
    """Whether `text` holds a UTF-16 surrogate (in a Python string, one is always alone)."""
    return _SURROGATE.search(text) is not None


def holds_lone_surrogate(value: Any) -> bool:
    """Whether a JSON value holds a lone surrogate anywhere (keys included), at any depth.

    A loop, not a recursion: a client's JSON may be nested as deep as the parser allows (about
    1,000 levels), deeper than a recursive walk can go.
    """
    waiting = [value]
    while waiting:
        item = waiting.pop()
        if isinstance(item, str):
            if has_lone_surrogate(item):
                return True
        elif isinstance(item, dict):
            waiting.extend(item)
            waiting.extend(item.values())
        elif isinstance(item, list):
            waiting.extend(item)
    return False


def problem(text: Any, attachment: bool = False) -> Optional[str]:
    """Why this text cannot be taken (a code above), or None when it can.

    Args:
        text: the customer's text, as the channel received it (any JSON value).
        attachment: whether the message carries an attachment (then no text is fine).
    """
    if text is None:
        text = ""
    if not isinstance(text, str):
        return BAD_TEXT
    if has_lone_surrogate(text):
        return BAD_TEXT
    if len(text) > MAX_MESSAGE_CHARS:
        return TOO_LONG
    if not text.strip() and not attachment:
        return EMPTY
    return None


def notice(code: str, language: Any) -> str:
    """What the customer is told about `code`: in their language, else in both.

    `language` comes from the client (any JSON value): only "fr" or "en" choose one.
    """
    texts = NOTICES[code]
    if isinstance(language, str) and language in texts:
        return texts[language]
    return f"{texts['en']}\n{texts['fr']}"


def is_command(text: str) -> bool:
    """Whether Rasa would read `text` as `/intent{entities}` (it strips spaces first)."""
    return text.strip().startswith("/")


def neutralise(text: str, offered: Collection[str]) -> str:
    """The text Rasa may see: a button's payload as it is, anything else never as a command.

    Args:
        text: the customer's text.
        offered: the payloads of the buttons of the bot's last message (`payloads_of`).

    Returns:
        `text` unchanged unless it starts with `/` and is not one of `offered`; then without
        its leading slashes (and spaces), so that the NLU reads the words.
    """
    if not is_command(text) or text in offered or text.strip() in offered:
        return text
    return _COMMAND.sub("", text)


def payloads_of(messages: Iterable[Mapping[str, Any]]) -> List[str]:
    """The payloads of the buttons and quick replies of bot messages (as journaled)."""
    found: List[str] = []
    for message in messages:
        for key in ("buttons", "quick_replies"):
            for button in message.get(key) or []:
                if isinstance(button, Mapping) and isinstance(button.get("payload"), str):
                    found.append(button["payload"])
    return found
