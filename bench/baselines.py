"""The baselines measured in the same run: plain Rasa, and a raw Redis round trip."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path
from typing import List, Tuple

from redis.asyncio import Redis

from handoff.redis_client import CLUSTER, RedisAddress, connect
from stack.services import Stack, free_port

# Rasa's own socket.io channel, nothing else: no project channel, no Messenger.
PLAIN_CREDENTIALS = """\
socketio:
  user_message_evt: user_uttered
  bot_message_evt: bot_uttered
  session_persistence: true
"""
# Only the action server: trackers and locks in memory, no event broker.
PLAIN_ENDPOINTS = """\
action_endpoint:
  url: {actions_url}/webhook
  headers:
    X-Action-Token: ${{ACTION_SERVER_TOKEN}}
"""


def start_plain_rasa(stack: Stack, run_dir: Path) -> str:
    """The same model under a plain `rasa run` on another port (stopped with the stack)."""
    credentials, endpoints = run_dir / "plain-credentials.yml", run_dir / "plain-endpoints.yml"
    credentials.write_text(PLAIN_CREDENTIALS)
    endpoints.write_text(PLAIN_ENDPOINTS.format(actions_url=stack.actions_url))
    return stack.add_rasa("rasa-plain", free_port(), credentials=str(credentials),
                          endpoints=str(endpoints))


async def redis_round_trips(redis_url: str, samples: int, pause: float = 0.0) -> List[float]:
    """XADD on one connection to the return of a blocking XREAD on another, in seconds.

    This is the floor of any relay through Redis Streams: one write and one blocked reader
    woken up, on the same Redis as the product (its primary, under Sentinel). On a Cluster,
    on the primary that serves the stream's slot, straight: no redirection on the way, as
    each of the product's commands goes to its key's node.
    """
    stream = f"bench:rtt:{uuid.uuid4().hex}"
    writer, reader = await round_trip_clients(redis_url, stream)
    latencies: List[float] = []
    try:
        last = "0-0"
        for _ in range(samples):
            read = asyncio.ensure_future(reader.xread({stream: last}, block=5000, count=1))
            await asyncio.sleep(0.001)  # lets the XREAD reach Redis and block there
            sent = time.monotonic()
            await writer.xadd(stream, {"t": "x"})
            answer = await read
            latencies.append(time.monotonic() - sent)
            last = answer[0][1][0][0]
            if pause:
                await asyncio.sleep(pause)
    finally:
        await writer.delete(stream)
        for client in (writer, reader):
            await client.close(close_connection_pool=True)
            await client.connection_pool.disconnect()
    return latencies


async def round_trip_clients(redis_url: str, key: str) -> Tuple[Redis, Redis]:
    """Two clients, each on a connection of its own, of the node that serves `key`.

    `handoff.redis_client.connect` reads every `REDIS_URL` the product takes; on a Cluster,
    its client finds the primary serving `key`'s slot, and plain clients of that node are made.
    """
    address = RedisAddress.parse(redis_url)
    if address.kind != CLUSTER:
        return (connect(redis_url, decode_responses=False),
                connect(redis_url, decode_responses=False))
    cluster = connect(redis_url, decode_responses=False)
    try:
        await cluster.initialize()
        node = cluster.get_node_from_key(key)
    finally:
        await cluster.close()
    return tuple(  # type: ignore[return-value]
        Redis(host=node.host, port=node.port, username=address.username,
              password=address.password, ssl=address.tls) for _ in range(2))
