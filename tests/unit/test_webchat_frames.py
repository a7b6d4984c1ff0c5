"""`bot_uttered` frames: Rasa's fields on top, the project's extras in metadata."""

from __future__ import annotations

from handoff.webchat_frames import RASA_FIELDS, bot_frame, for_plain_clients, page_view


def test_a_bot_text_is_text_and_its_journal_id():
    assert bot_frame({"text": "Hello"}, "1-0") == {"text": "Hello", "metadata": {"id": "1-0"}}


def test_extras_move_into_metadata_and_rasas_fields_stay():
    payload = {"text": "Hi, Marie here", "agent": "Marie", "agent_message_id": "m1",
               "quick_replies": [{"title": "Yes", "payload": "/affirm"}]}
    frame = bot_frame(payload, "5-1", replayed=True)
    assert set(frame) == {"text", "quick_replies", "metadata"}
    assert frame["metadata"] == {"agent": "Marie", "agent_message_id": "m1", "id": "5-1",
                                 "replayed": True}
    assert payload["agent"] == "Marie"  # the journaled payload is left as it was


def test_a_messages_own_metadata_is_kept():
    frame = bot_frame({"text": "x", "notice": "closed", "metadata": {"linkTarget": "_self"}},
                      "2-0")
    assert frame == {"text": "x", "metadata": {"linkTarget": "_self", "notice": "closed",
                                               "id": "2-0"}}


def test_no_metadata_when_there_is_nothing_to_say():
    assert bot_frame({"attachment": {"type": "image"}}) == {"attachment": {"type": "image"}}


def test_every_top_level_key_is_rasas_and_the_page_reads_the_extras_back():
    payload = {"text": "t", "buttons": [], "image": "i", "custom": {}, "notice": "n",
               "elements": [1], "agent": "A"}
    frame = bot_frame(payload, "3-0")
    assert set(frame) <= RASA_FIELDS
    assert page_view(frame) == {**payload, "id": "3-0"}


def test_clients_that_read_no_metadata_get_the_agents_name_in_the_text():
    agent = bot_frame({"text": "Hello", "agent": "Marie", "agent_message_id": "m1"}, "1-0")
    assert for_plain_clients(agent) == {**agent, "text": "Marie: Hello"}
    assert agent["text"] == "Hello"  # the project's page reads the name from the metadata
    # The bot's messages and the service's notices (which name the agent themselves) stay.
    assert for_plain_clients(bot_frame({"text": "Hi, how can I help?"}, "2-0")) is None
    notice = bot_frame({"text": "Marie from our team has joined.", "agent": "Marie",
                        "notice": "agent_joined"}, "3-0")
    assert for_plain_clients(notice) is None
    assert for_plain_clients(bot_frame({"image": "https://x.test/a.png", "agent": "Marie"})) \
        is None
