"""What the web chat page receives for a message, wherever it is sent from.

Rasa's web channel (`bot.web.WebChatOutput`, for the bot's own messages and notices sent through
Rasa) and the live path (`handoff.relay.outbound`, for agents' messages and notices) build the
same frames here, so the page reads one format.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

# (journal once-key or None, payload): the page shows one bubble per paragraph.
Part = Tuple[Optional[str], Dict[str, Any]]


def web_parts(text: str, *, agent: Optional[str] = None, message_id: Optional[str] = None,
              notice: Optional[str] = None) -> List[Part]:
    """The frames of one message: the agent's name, or the notice's kind, on each."""
    extra: Dict[str, Any] = {}
    if agent:
        extra = {"agent": agent, "agent_message_id": message_id}
    elif notice:
        extra = {"notice": notice}
    kind = "agent" if agent else "notice"
    return [(f"{kind}:{message_id}:{n}" if message_id else None, {"text": part, **extra})
            for n, part in enumerate(text.strip().split("\n\n"))]
