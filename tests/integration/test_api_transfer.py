"""A conversation transferred to an agent: only that agent (or a supervisor) can take it."""

from __future__ import annotations

import pytest

from handoff.accounts import AccountStore
from handoff.conversation import State
from tests.conftest import PASSWORD
from tests.integration.service import agents, running_service, settings_for
from tests.integration.test_conversation_store import _ticket

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]


@pytest.fixture
async def transferred(store, redis, keys):
    """`c1`, claimed by Marie and transferred by her to Paul."""
    accounts = AccountStore(redis, keys)
    for username, role in (("marie", "agent"), ("paul", "agent"), ("lea", "agent"),
                           ("sam", "supervisor")):
        await accounts.create(username, username.capitalize(), PASSWORD, role=role)
    await store.enqueue(_ticket("c1"))
    await store.claim("c1", "marie", "Marie")
    await store.transfer("c1", "marie", "paul", "Paul")
    return "c1"


@pytest.mark.parametrize("language, words", [("en", "transferred to another agent"),
                                             ("fr", "transférée à un autre conseiller")])
async def test_another_agent_cannot_take_it(redis_server, store, transferred, language, words):
    async with running_service(settings_for(redis_server)) as server, \
            agents(server, 2) as (lea, paul):
        assert (await lea.login("lea", PASSWORD))[0] == 200
        status, body = await lea.post(f"/api/conversations/{transferred}/claim",
                                      headers={"Accept-Language": language})
        assert status == 403
        assert body["error"]["code"] == "transferred_to_other"
        assert words in body["error"]["message"]
        record = await store.get(transferred)
        assert (record.state, record.agent) == (State.TRANSFERRED, "paul")

        # The named agent still accepts it.
        assert (await paul.login("paul", PASSWORD))[0] == 200
        status, body = await paul.post(f"/api/conversations/{transferred}/claim")
        assert status == 200, body
        record = await store.get(transferred)
        assert (record.state, record.agent) == (State.ASSIGNED, "paul")


async def test_a_supervisor_can_take_it(redis_server, store, transferred):
    async with running_service(settings_for(redis_server)) as server, \
            agents(server, 1) as (sam,):
        assert (await sam.login("sam", PASSWORD))[0] == 200
        status, body = await sam.post(f"/api/conversations/{transferred}/claim")
        assert status == 200, body
        record = await store.get(transferred)
        assert (record.state, record.agent) == (State.ASSIGNED, "sam")
        assert await store.agent_conversation_ids("paul") == []


async def test_the_state_machine_claims_only_queued_conversations(store, transferred):
    from handoff.conversation import IllegalTransition

    with pytest.raises(IllegalTransition):
        await store.claim(transferred, "lea", "Lea")
    assert (await store.get(transferred)).agent == "paul"
