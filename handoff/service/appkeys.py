"""Typed keys of what the handoff service's application holds (set in `handoff.service.app`)."""

from __future__ import annotations

from typing import Dict, List

from aiohttp import web
from redis.asyncio import Redis

from handoff.accounts import AccountStore
from handoff.availability import OpeningHours
from handoff.conversation import ConversationStore
from handoff.keys import Keys
from handoff.messenger_api import SendApi
from handoff.orders.desk import OrderDesk
from handoff.rasa_api import RasaClient
from handoff.relay.giveback import GiveBack
from handoff.service.api.canned import Canned
from handoff.service.api.hub import Hub
from handoff.service.api.login_guard import LoginGuard
from handoff.service.insights.faq import FaqEntry
from handoff.service.insights.resolved import ResolvedReplies
from handoff.service.jobs.workers import Workers
from handoff.settings import Settings
from handoff.teams import Team

SETTINGS = web.AppKey("settings", Settings)
KEYS = web.AppKey("keys", Keys)
REDIS = web.AppKey("redis", Redis)
SESSION_REDIS = web.AppKey("session_redis", Redis)
STORE = web.AppKey("store", ConversationStore)
ACCOUNTS = web.AppKey("accounts", AccountStore)
RASA = web.AppKey("rasa", RasaClient)
HUB = web.AppKey("hub", Hub)
WORKERS = web.AppKey("workers", Workers)
MESSENGER = web.AppKey("messenger", SendApi)
GIVEBACK = web.AppKey("giveback", GiveBack)
CANNED = web.AppKey("canned", List[Canned])
TEAMS = web.AppKey("teams", Dict[str, Team])
LOGIN_GUARD = web.AppKey("login_guard", LoginGuard)
ORDERS = web.AppKey("orders", OrderDesk)
FAQ = web.AppKey("faq", List[FaqEntry])
RESOLVED = web.AppKey("resolved", ResolvedReplies)
HOURS = web.AppKey("hours", OpeningHours)
