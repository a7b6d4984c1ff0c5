"""Ephemeral notices over Redis pub/sub: frames for agents' consoles, events for customers.

At most once by nature: anything that must not be lost (messages, tickets, states) travels in
streams or through Rasa; these only make the screens live.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Union

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.asyncio.cluster import ClusterPipeline

from handoff.keys import Keys
from handoff.redis_client import publish_on, pubsub_client

if TYPE_CHECKING:
    from handoff.accounts import Agent

Audience = Dict[str, Any]
BATCH = "batch"  # a push-channel message that carries several frames (never sent to a console)


def everyone() -> Audience:
    """Every signed-in agent."""
    return {"all": True}


def agents(*usernames: Optional[str]) -> Audience:
    """The named agents (None is skipped) and the supervisors, who see every conversation."""
    return {"agents": sorted({name for name in usernames if name}), "supervisors": True}


def team(name: Optional[str]) -> Audience:
    """The members of a team and the supervisors; no team means every agent."""
    return {"team": name} if name else everyone()


def reaches(audience: Audience, agent: "Agent") -> bool:
    """Whether a frame with this audience is for this agent's consoles."""
    if audience.get("all") or agent.username in audience.get("agents", ()):
        return True
    if audience.get("supervisors") and agent.is_supervisor:
        return True
    return "team" in audience and agent.serves(audience["team"])


async def to_agents(redis: Redis, keys: Keys, frame: Dict[str, Any]) -> None:
    """A frame for the consoles of its `audience` (built by the functions above)."""
    await pubsub_client(redis).publish(keys.push_channel, json.dumps(frame, ensure_ascii=False))


def to_agents_on(pipe: Union[Pipeline, ClusterPipeline], keys: Keys, frame: Dict[str, Any],
                 near: Optional[str] = None) -> None:
    """`to_agents`, queued on `pipe` after the writes it announces (a transition's frames).

    `near`: the key whose change the frame announces (see `redis_client.publish_on`).
    """
    publish_on(pipe, keys.push_channel, json.dumps(frame, ensure_ascii=False), near)


def many_to_agents(pipe: Union[Pipeline, ClusterPipeline], keys: Keys,
                   frames: List[Dict[str, Any]]) -> None:
    """Frames, each with its `audience`, in one message on `pipe` (the live path's batches).

    The hub hands each frame on as if it had come alone.
    """
    if frames:
        to_agents_on(pipe, keys, {"type": BATCH, "frames": frames})


def unbatched(frame: Dict[str, Any]) -> List[Dict[str, Any]]:
    """The frames a push-channel message carries (one, or a batch's)."""
    if frame.get("type") == BATCH:
        return [f for f in frame.get("frames") or [] if isinstance(f, dict)]
    return [frame]


async def to_customer(redis: Redis, keys: Keys, room: str, event: str,
                      data: Dict[str, Any]) -> None:
    """A socket.io event for the customer whose session id is `room` (see `bot.customer_events`)."""
    message = json.dumps({"room": room, "event": event, "data": data}, ensure_ascii=False)
    await pubsub_client(redis).publish(keys.customer_channel, message)
