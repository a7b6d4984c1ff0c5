"""A conversation's keys share one hash slot (so that a Redis Cluster runs a step over several
of them) exactly when its id makes a hash tag (`handoff.keys.makes_a_hash_tag`)."""

from typing import Set

import pytest
from redis.crc import key_slot

from handoff.keys import RASA_KEYS, Keys, makes_a_hash_tag

KEYS = Keys()


def _slots(cid: str) -> Set[int]:
    """The slots of the keys one step of the live path takes together (`TAKE_LUA`'s), the
    journal's and Rasa's."""
    names = [KEYS.conversation(cid), KEYS.segment(cid), KEYS.relay_due(cid),
             KEYS.last_customer_turn(cid), KEYS.web_message(cid, "m1"), KEYS.journal(cid),
             RASA_KEYS.tracker(cid), RASA_KEYS.lock(cid)]
    return {key_slot(name.encode()) for name in names}


@pytest.mark.parametrize("cid", ["1234567890123456", "3f2a9c0e1b7d4e55a0c1d2e3f4a5b6c7",
                                 "rest-x", "a b", "é", "{odd}", "a}b", "x{y}z", "{", "a}"])
def test_an_id_that_makes_a_hash_tag_keeps_its_keys_in_one_slot(cid):
    assert makes_a_hash_tag(cid)
    assert len(_slots(cid)) == 1


@pytest.mark.parametrize("cid", ["", "}", "}42", "}{x}"])
def test_an_id_that_makes_none_spreads_its_keys_over_slots(cid):
    # `{}` in a key is no hash tag: each key is hashed whole, to a slot of its own.
    assert not makes_a_hash_tag(cid)
    assert len(_slots(cid)) > 1
