"""One handoff-service assigner, as its own process (for the concurrent-assignment test).

    python -m tests.integration.assigner_process REDIS_URL PREFIX SECONDS
"""

from __future__ import annotations

import asyncio
import sys
import time

import aiohttp
from redis.asyncio import Redis

from handoff.accounts import AccountStore
from handoff.announce import Announcer
from handoff.conversation import ConversationStore
from handoff.keys import Keys
from handoff.presence import Presence
from handoff.rasa_api import RasaClient
from handoff.service.jobs.assignment import Assigner
from handoff.teams import load
from stack.services import free_port


async def main(redis_url: str, prefix: str, seconds: float) -> int:
    redis = Redis.from_url(redis_url, decode_responses=True)
    keys = Keys(prefix)
    store = ConversationStore(redis, keys)
    # No Rasa here: customer notices fail (and are logged); assignments do not depend on them.
    async with aiohttp.ClientSession() as http:
        rasa = RasaClient(http, f"http://127.0.0.1:{free_port()}", "unused")
        assigner = Assigner(redis, keys, store, AccountStore(redis, keys),
                            Presence(redis, keys, grace=3600), load(),
                            Announcer(redis, keys, store, rasa), time.time)
        assigned, deadline = 0, time.monotonic() + seconds
        while time.monotonic() < deadline:
            assigned += await assigner.tick()
    await redis.close(close_connection_pool=True)
    print(assigned)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1], sys.argv[2], float(sys.argv[3]))))
