"""Web chat session ids: issued and signed by the server, never chosen by the browser.

A token is `<conversation id>.<signature>`, the signature an HMAC-SHA256 of the id with the
server's secret (`CHAT_SESSION_SECRET`). The browser keeps the token and sends it back on
reconnect; a token that does not verify gets a fresh conversation, so nobody can join a
conversation whose token they were not given.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from typing import Optional, Tuple


class SessionSigner:
    """Issues and checks session tokens with one secret."""

    def __init__(self, secret: str) -> None:
        """`secret`: at least 16 characters, the same in every Rasa process."""
        if len(secret) < 16:
            raise ValueError("CHAT_SESSION_SECRET must be at least 16 characters")
        self._key = secret.encode()

    def issue(self) -> Tuple[str, str]:
        """A new (conversation id, token)."""
        conversation_id = uuid.uuid4().hex
        return conversation_id, self.token_for(conversation_id)

    def token_for(self, conversation_id: str) -> str:
        """The token of an existing conversation (for a customer who proved it is theirs)."""
        return f"{conversation_id}.{self._sign(conversation_id)}"

    def verify(self, token: object) -> Optional[str]:
        """The conversation id of a genuine token, else None (compared in constant time)."""
        if not isinstance(token, str) or not token.isascii() or token.count(".") != 1 \
                or len(token) > 200:
            return None
        conversation_id, signature = token.split(".")
        if not conversation_id or not hmac.compare_digest(signature.encode(),
                                                          self._sign(conversation_id).encode()):
            return None
        return conversation_id

    def _sign(self, conversation_id: str) -> str:
        digest = hmac.new(self._key, conversation_id.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")
