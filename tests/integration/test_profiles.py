"""Customer profiles and link codes against a real Redis."""

import pytest

from handoff.channels import messenger_address
from handoff.profiles import ProfileStore, identity, normalise_code

pytestmark = pytest.mark.integration


@pytest.fixture
def profiles(redis, keys):
    return ProfileStore(redis, keys)


def test_codes_are_read_however_the_customer_types_them():
    assert normalise_code("HF-K7PQ4RDX") == "K7PQ4RDX"
    assert normalise_code(" hf k7pq-4rdx ") == "K7PQ4RDX"
    assert normalise_code("K7PQ4RDX") == "K7PQ4RDX"
    assert normalise_code("HF-K7PQ4RD0") is None  # 0 is not in the alphabet
    assert normalise_code("hello there") is None


async def test_a_code_works_once_and_only_on_its_channel(profiles):
    code = await profiles.issue_code("web-1", "messenger", identity("socketio", "web-1"))
    assert await profiles.redeem(code, "socketio") is None  # wrong channel: used up anyway
    code = await profiles.issue_code("web-1", "messenger", identity("socketio", "web-1"))
    record = await profiles.redeem(code, "messenger")
    assert record == {"conversation_id": "web-1", "to": "messenger",
                      "from": "socketio:web-1"}
    assert await profiles.redeem(code, "messenger") is None


async def test_linking_merges_profiles(profiles):
    await profiles.link("socketio:a", "messenger:1")
    await profiles.link("socketio:b", "messenger:2")
    assert await profiles.identities("socketio:a") == ["messenger:1", "socketio:a"]
    await profiles.link("messenger:1", "socketio:b")  # the same person, it turns out
    everyone = ["messenger:1", "messenger:2", "socketio:a", "socketio:b"]
    for member in everyone:
        assert await profiles.identities(member) == everyone
    assert await profiles.identities("socketio:alone") == ["socketio:alone"]


async def test_a_moved_conversation_is_found_from_either_side(profiles, redis, keys):
    await profiles.link("socketio:web-1", "messenger:psid-9")
    await profiles.move_to_messenger("web-1", "psid-9")
    assert await profiles.messenger_conversation("psid-9") == "web-1"
    assert await profiles.messenger_conversation("psid-other") == "psid-other"
    assert await messenger_address(redis, keys, "web-1") == "psid-9"
    assert await redis.hget(keys.conversation("web-1"), "channel") == "messenger"
    assert await profiles.linked_conversations("web-1") == ["psid-9", "web-1"]
    await profiles.move_to_web("web-1")
    assert await redis.hget(keys.conversation("web-1"), "channel") == "socketio"
