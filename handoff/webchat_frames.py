"""`bot_uttered` frames as Rasa's own socket.io channel sends them.

Rasa's web clients read a frame by its top-level keys: the public `rasa-webchat` widget shows a
text only when `text` is its only key besides `metadata` (buttons likewise), so one extra key
there silences the bot. A frame therefore carries only Rasa's fields; what the project adds (the
journal id the page acknowledges and replays from, the agent's name, the handoff service's
notices) goes in `metadata`, which Rasa's clients pass over.

No Rasa import here: the handoff service builds the same frames (e.g. for agents' messages sent
to the page without going through Rasa).
"""

from __future__ import annotations

from typing import Any, Dict, Mapping, Optional

# The keys of a message in Rasa's socket.io protocol (rasa/core/channels/socketio.py).
RASA_FIELDS = frozenset({"text", "buttons", "quick_replies", "image", "attachment", "custom",
                         "metadata"})


def bot_frame(payload: Mapping[str, Any], entry_id: Optional[str] = None,
              replayed: bool = False) -> Dict[str, Any]:
    """The `bot_uttered` frame for a journaled message.

    Args:
        payload: the message as journaled (`handoff.journal`): Rasa's fields, and the project's
            own keys (`agent`, `agent_message_id`, `notice`...) beside them.
        entry_id: its journal entry id (None when it could not be journaled).
        replayed: whether it is sent again to a browser that reconnected.

    Returns:
        Rasa's fields at the top level, everything else in `metadata` (with `id` and
        `replayed`); no `metadata` key when there is nothing to put in it.
    """
    frame = {k: v for k, v in payload.items() if k in RASA_FIELDS and k != "metadata"}
    given = payload.get("metadata")
    metadata: Dict[str, Any] = dict(given) if isinstance(given, Mapping) else {}
    metadata.update({k: v for k, v in payload.items() if k not in RASA_FIELDS})
    if entry_id is not None:
        metadata["id"] = entry_id
    if replayed:
        metadata["replayed"] = True
    if metadata:
        frame["metadata"] = metadata
    return frame


def for_plain_clients(frame: Mapping[str, Any]) -> Optional[Dict[str, Any]]:
    """The frame for a client that reads no metadata (Rasa's own widgets), if it differs.

    Such a client would show an agent's message as the bot's: it gets the agent's name before
    the text ("Marie: …"). None for every other frame (the bot's, notices, which name the
    agent in their own words).
    """
    metadata = frame.get("metadata")
    if not isinstance(metadata, Mapping) or metadata.get("notice"):
        return None
    agent, text = metadata.get("agent"), frame.get("text")
    if not isinstance(agent, str) or not agent or not isinstance(text, str):
        return None
    return {**frame, "text": f"{agent}: {text}"}


def page_view(frame: Mapping[str, Any]) -> Dict[str, Any]:
    """What the project's chat page reads from a frame: Rasa's fields and the metadata, flat.

    For clients that act on the project's extras (tests, benchmarks); the inverse of
    `bot_frame` for the keys the page uses.
    """
    given = frame.get("metadata")
    metadata = dict(given) if isinstance(given, Mapping) else {}
    return {**{k: v for k, v in frame.items() if k != "metadata"}, **metadata}
