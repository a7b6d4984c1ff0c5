"""Shared clients of the action server, created once on first use.

rasa-sdk instantiates actions itself, with no arguments, so the action server's process edge is
this module: it reads the settings once and owns the one Redis client.
"""

from __future__ import annotations

from typing import Optional, Tuple

from redis.asyncio import Redis

from actions.order_proof import RedisFailureCount
from handoff.accounts import AccountStore
from handoff.availability import OpeningHours, load_hours
from handoff.conversation import ConversationStore
from handoff.keys import Keys
from handoff.mail import MailSettings
from handoff.presence import Presence
from handoff.profiles import ProfileStore
from handoff.redis_client import connect
from handoff.settings import Settings

_settings: Optional[Settings] = None
_redis: Optional[Tuple[Redis, Keys]] = None
_hours: Optional[OpeningHours] = None
_mail: Optional[MailSettings] = None


def settings() -> Settings:
    """The settings, read once from the environment."""
    global _settings
    if _settings is None:
        _settings = Settings.from_env()
    return _settings


def redis_and_keys() -> Tuple[Redis, Keys]:
    """The Redis client and key names of the handoff parts."""
    global _redis
    if _redis is None:
        client = connect(settings().redis_url, socket_connect_timeout=2, socket_timeout=5)
        _redis = (client, Keys(settings().key_prefix))
    return _redis


def conversation_store() -> ConversationStore:
    """The conversation store."""
    return ConversationStore(*redis_and_keys())


def profile_store() -> ProfileStore:
    """Customer profiles (VIP list)."""
    return ProfileStore(*redis_and_keys())


def account_store() -> AccountStore:
    """Agent accounts."""
    return AccountStore(*redis_and_keys())


def presence() -> Presence:
    """Which agents are there."""
    return Presence(*redis_and_keys(), grace=settings().disconnect_grace)


def proof_failures() -> RedisFailureCount:
    """Wrong order proofs per order, over all conversations (`actions/order_proof.py`)."""
    return RedisFailureCount(*redis_and_keys())


def opening_hours() -> OpeningHours:
    """`handoff/hours.yml`, read once."""
    global _hours
    if _hours is None:
        _hours = load_hours(always_open=settings().always_open)
    return _hours


def mail_settings() -> MailSettings:
    """The SMTP settings (`handoff/mail.py`), read once from the environment."""
    global _mail
    if _mail is None:
        _mail = MailSettings.from_env()
    return _mail


def use_redis(redis: Optional[Redis], keys: Optional[Keys] = None) -> None:
    """Replaces the Redis client (tests give one of their own; None: back to the settings)."""
    global _redis
    _redis = (redis, keys or Keys()) if redis is not None else None


def use_hours(hours: Optional[OpeningHours]) -> None:
    """Replaces the opening hours (tests; None: back to `handoff/hours.yml`)."""
    global _hours
    _hours = hours
