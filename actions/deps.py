"""Shared clients of the action server, created once on first use.

rasa-sdk instantiates actions itself, with no arguments, so the action server's process edge is
this module: it reads the settings once and owns the one Redis client.
"""

from __future__ import annotations

from typing import Optional

from redis.asyncio import Redis

from handoff.conversation import ConversationStore
from handoff.keys import Keys
from handoff.settings import Settings

_store: Optional[ConversationStore] = None


def conversation_store() -> ConversationStore:
    """The conversation store on the configured Redis."""
    global _store
    if _store is None:
        settings = Settings.from_env()
        redis = Redis.from_url(settings.redis_url, decode_responses=True,
                               socket_connect_timeout=2, socket_timeout=5)
        _store = ConversationStore(redis, Keys(settings.key_prefix))
    return _store


def use_store(store: Optional[ConversationStore]) -> None:
    """Replaces the store (tests give one on their own Redis)."""
    global _store
    _store = store
