"""Configuration of the handoff parts, read once from the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Optional, Tuple


class SettingsError(ValueError):
    """A configuration value is missing or malformed."""


@dataclass(frozen=True)
class Settings:
    """Everything the handoff service, the action server and the broker need to know.

    Env var names sit next to their defaults in `from_env`.
    """

    redis_url: str = "redis://127.0.0.1:6379/0"
    rasa_url: str = "http://127.0.0.1:5005"
    rasa_token: str = ""
    host: str = "127.0.0.1"
    port: int = 8080
    public_url: str = "http://127.0.0.1:8080"
    chat_rasa_url: str = "http://127.0.0.1:5005"
    key_prefix: str = "hf:v1"
    max_message_chars: int = 4000
    session_max_age: int = 12 * 3600
    rasa_timeout: float = 10.0
    messenger_page_token: str = ""
    messenger_graph_url: str = "https://graph.facebook.com/v19.0"
    messenger_retry_backoff: float = 0.5
    messenger_page_id: str = ""
    auto_assign: bool = True
    disconnect_grace: float = 60.0
    abandon_after: float = 300.0
    tracker_write_delay: float = 10.0  # seconds a live turn may wait before the tracker has it
    always_open: bool = False
    max_wait: float = 20 * 60.0
    # The name this service reads the streams under (default: host and port). It must survive a
    # restart: entries the service had read but not finished when it died are taken up again
    # first, in order.
    consumer_name: str = ""
    # Addresses of reverse proxies whose X-Forwarded-For is believed (sign-in throttling counts
    # per client address; behind a proxy every request would otherwise come from the proxy).
    trusted_proxies: Tuple[str, ...] = ()
    # Host names the service answers to besides HANDOFF_PUBLIC_URL's and loopback (DNS
    # rebinding defence: a request naming any other host is refused).
    allowed_hosts: Tuple[str, ...] = ()
    # Sites whose pages may embed the chat page in a frame (the widget), besides the service.
    chat_origins: Tuple[str, ...] = ()
    # Storage limitation (GDPR Art. 5(1)(e), `handoff.privacy.retention`), in days: a
    # conversation idle that long is erased (transcript, journal, tickets, notes, contact
    # details, good answers); aggregated records (dashboard, surveys) and the privacy audit log
    # are deleted at their own age; 0 keeps that kind for ever.
    retain_conversations_days: float = 90.0
    retain_records_days: float = 730.0
    retain_audit_days: float = 1095.0
    retention_every: float = 3600.0  # seconds between passes (one process runs each)
    # One line per HTTP request: off by default, since each costs the live path time and names
    # conversations (the agent API's paths); on for debugging.
    access_log: bool = False
    # The shop's order store (`handoff/orders/store.py`), which agents act on from the console;
    # empty: its default file. The action server reads the same variable.
    orders_db_path: str = ""

    @classmethod
    def from_env(cls, env: Optional[Mapping[str, str]] = None) -> "Settings":
        """Builds settings from environment variables, failing fast on bad values."""
        env = os.environ if env is None else env
        port = _int(env, "HANDOFF_PORT", cls.port)
        host = env.get("HANDOFF_HOST", cls.host)
        rasa_url = env.get("RASA_URL", cls.rasa_url).rstrip("/")
        return cls(
            redis_url=env.get("REDIS_URL", cls.redis_url),
            rasa_url=rasa_url,
            rasa_token=env.get("RASA_TOKEN", cls.rasa_token),
            host=host,
            port=port,
            public_url=env.get("HANDOFF_PUBLIC_URL", f"http://{host}:{port}").rstrip("/"),
            chat_rasa_url=env.get("CHAT_RASA_URL", rasa_url).rstrip("/"),
            key_prefix=env.get("HANDOFF_KEY_PREFIX", cls.key_prefix),
            max_message_chars=_int(env, "HANDOFF_MAX_MESSAGE_CHARS", cls.max_message_chars),
            session_max_age=_int(env, "HANDOFF_SESSION_MAX_AGE", cls.session_max_age),
            messenger_page_token=env.get("MESSENGER_PAGE_TOKEN", cls.messenger_page_token),
            messenger_graph_url=env.get("MESSENGER_GRAPH_URL") or cls.messenger_graph_url,
            messenger_retry_backoff=_float(env, "MESSENGER_RETRY_BACKOFF",
                                           cls.messenger_retry_backoff),
            messenger_page_id=env.get("MESSENGER_PAGE_ID", cls.messenger_page_id),
            auto_assign=env.get("HANDOFF_AUTO_ASSIGN", "1") not in ("0", "false", "no"),
            disconnect_grace=_float(env, "HANDOFF_DISCONNECT_GRACE", cls.disconnect_grace),
            abandon_after=_float(env, "HANDOFF_ABANDON_AFTER", cls.abandon_after),
            tracker_write_delay=_float(env, "HANDOFF_TRACKER_WRITE_DELAY",
                                       cls.tracker_write_delay),
            always_open=env.get("HANDOFF_ALWAYS_OPEN", "0") in ("1", "true", "yes"),
            max_wait=_float(env, "HANDOFF_MAX_WAIT", cls.max_wait),
            consumer_name=env.get("HANDOFF_CONSUMER_NAME", cls.consumer_name),
            trusted_proxies=_list(env, "HANDOFF_TRUSTED_PROXIES"),
            allowed_hosts=_list(env, "HANDOFF_ALLOWED_HOSTS"),
            chat_origins=tuple(o.rstrip("/") for o in _list(env, "CHAT_ALLOWED_ORIGINS")),
            retain_conversations_days=_days(env, "HANDOFF_RETAIN_CONVERSATIONS_DAYS",
                                            cls.retain_conversations_days),
            retain_records_days=_days(env, "HANDOFF_RETAIN_RECORDS_DAYS",
                                      cls.retain_records_days),
            retain_audit_days=_days(env, "HANDOFF_RETAIN_AUDIT_DAYS", cls.retain_audit_days),
            retention_every=_float(env, "HANDOFF_RETENTION_EVERY", cls.retention_every),
            access_log=env.get("HANDOFF_ACCESS_LOG", "0") in ("1", "true", "yes"),
            orders_db_path=env.get("ORDERS_DB_PATH", cls.orders_db_path),
        )


def _list(env: Mapping[str, str], name: str) -> Tuple[str, ...]:
    return tuple(part.strip() for part in env.get(name, "").split(",") if part.strip())


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    return _number(env, name, default, int, "an integer")


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    return _number(env, name, default, float, "a number")


def _days(env: Mapping[str, str], name: str, default: float) -> float:
    days = _float(env, name, default)
    if days < 0:
        raise SettingsError(f"{name} must be 0 (keep for ever) or a number of days, got {days}")
    return days


def _number(env: Mapping[str, str], name: str, default: Any, cast: Callable[[str], Any],
            what: str) -> Any:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return cast(raw)
    except ValueError as exc:
        raise SettingsError(f"{name} must be {what}, got {raw!r}") from exc
