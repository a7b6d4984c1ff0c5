"""Transcript by e-mail, against the real stack and a real local SMTP server (aiosmtpd).

The customer talks to the bot, then to an agent; once the conversation is back with the bot (or
closed), they ask for the transcript. The action server sends it with smtplib to the `mailbox`
fixture's server, which is what these tests read.
"""

from __future__ import annotations

import random
import re
import string

import pytest

from tests.e2e.conftest import with_an_agent

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

TIME = r"\[\d\d:\d\d\]"


def _address(name, domain):
    # Letters only: digits in a message can be taken for an order number attempt.
    return f"{name}.{''.join(random.choices(string.ascii_lowercase, k=10))}@{domain}"


def _parts(message):
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(("plain",)).get_content()
    page = message.get_body(("html",)).get_content()
    return text, page


async def test_english_customer_gets_the_transcript_with_the_agent_named(
        stack, agents, customer_factory, mailbox):
    marie = agents["marie"]
    customer = await customer_factory()
    cid = customer.session_id
    address = _address("anna", "example.com")

    await customer.say("what are your opening hours?")
    await customer.reply(lambda m: "Monday" in m.get("text", ""))
    await with_an_agent(customer, marie)
    await marie.connect_ws()
    status, _ = await marie.post(f"/api/conversations/{cid}/messages",
                                 {"text": "Hello, Marie here. Your parcel leaves today."})
    assert status == 202
    await customer.reply(lambda m: m.get("agent"))
    tricky = "great <img src=x onerror=alert(1)> & <b>thanks</b>"
    await customer.say(tricky)
    await marie.frame(lambda f: f["type"] == "message" and f["turn"].get("text") == tricky)
    # The agent answers it, so the hand-back leaves nothing for the bot to answer.
    status, _ = await marie.post(f"/api/conversations/{cid}/messages",
                                 {"text": "You're welcome, goodbye!"})
    assert status == 202
    await customer.reply(lambda m: m.get("agent"))
    status, body = await marie.post(f"/api/conversations/{cid}/handback", {})
    assert status == 200, body
    await customer.reply(lambda m: m.get("notice") == "handed_back")

    await customer.say(f"please email the transcript to {address}")
    sent = await customer.reply(lambda m: "transcript" in m.get("text", ""))
    assert sent["text"].startswith("Done: I've sent the transcript") and address in sent["text"]

    message = await mailbox.wait_for(address)
    assert len(mailbox.messages_to(address)) == 1
    assert message["Subject"] == "Transcript of your conversation with our customer service"
    assert message["From"] == "service@shop.example" and message["To"] == address
    text, page = _parts(message)
    assert re.search(TIME + r" You: what are your opening hours\?", text), text
    assert re.search(TIME + r" Assistant: Our customer service is open", text), text
    assert re.search(TIME + r" Marie \(customer service\): Hello, Marie here\. Your parcel "
                     r"leaves today\.", text), text
    assert re.search(TIME + r" You: " + re.escape(tricky), text), text
    assert re.search(TIME + r" Marie \(customer service\): You're welcome, goodbye!", text), text
    assert text.index("Hello, Marie here.") < text.index(tricky) < text.index("You're welcome")
    assert "Marie from our team has joined the conversation." in text
    assert "Times are Europe/Paris time." in text
    # The HTML part shows the customer's text as text: escaped, never markup.
    assert "<img" not in page and "<b>thanks" not in page
    assert "great &lt;img src=x onerror=alert(1)&gt; &amp; &lt;b&gt;thanks&lt;/b&gt;" in page
    assert "Marie (customer service)" in page and "Hello, Marie here." in page


async def test_french_customer_without_an_address_is_asked_for_it_after_the_close(
        stack, agents, customer_factory, mailbox):
    marie = agents["marie"]
    customer = await customer_factory()
    cid = customer.session_id
    address = _address("julie", "example.fr")

    await customer.say("quels sont vos horaires d'ouverture ?")
    await customer.reply(lambda m: "lundi" in m.get("text", ""))
    await customer.say("je veux parler à un conseiller")
    await customer.reply()
    status, body = await marie.post(f"/api/conversations/{cid}/claim", {})
    assert status == 200, body
    await customer.reply(lambda m: m.get("notice") == "agent_joined")
    status, _ = await marie.post(f"/api/conversations/{cid}/messages",
                                 {"text": "Bonjour, c'est Marie. Votre colis part aujourd'hui."})
    assert status == 202
    await customer.reply(lambda m: m.get("agent"))
    status, body = await marie.post(f"/api/conversations/{cid}/close", {"resolution": "resolved"})
    assert status == 200, body
    await customer.reply(lambda m: m.get("notice") == "closed")

    await customer.say("envoyez-moi la transcription par mail")
    asked = await customer.reply(lambda m: "transcription" in m.get("text", ""))
    assert "À quelle adresse e-mail" in asked["text"], asked
    assert mailbox.messages_to(address) == []
    await customer.say(address)
    sent = await customer.reply(lambda m: "transcription" in m.get("text", ""))
    assert sent["text"].startswith("C'est fait") and address in sent["text"], sent

    message = await mailbox.wait_for(address)
    assert message["Subject"] == "Transcription de votre conversation avec notre service client"
    text, page = _parts(message)
    assert re.search(TIME + r" Vous: quels sont vos horaires d'ouverture \?", text), text
    assert re.search(TIME + r" Marie \(service client\): Bonjour, c'est Marie\.", text), text
    assert "Marie, de notre équipe, a rejoint la conversation." in text
    assert "fuseau Europe/Paris" in text
    assert '<html lang="fr">' in page and "Marie (service client)" in page


async def test_mail_server_down_the_customer_is_told_and_can_ask_again(
        stack, customer_factory, mailbox):
    customer = await customer_factory()
    address = _address("sam", "example.com")
    await customer.say("can you email me the transcript")
    asked = await customer.reply(lambda m: "transcript" in m.get("text", ""))
    assert "To which e-mail address" in asked["text"], asked
    mailbox.down()
    try:
        await customer.say(address)
        failed = await customer.reply(lambda m: "transcript" in m.get("text", ""))
        assert failed["text"].startswith("I'm sorry, I couldn't send the transcript"), failed
    finally:
        mailbox.up()
    assert mailbox.messages_to(address) == []

    # The address is kept: asking again later sends it.
    await customer.say("can you email me the transcript")
    sent = await customer.reply(lambda m: "transcript" in m.get("text", ""))
    assert sent["text"].startswith("Done: I've sent the transcript"), sent
    text, _ = _parts(await mailbox.wait_for(address))
    assert f"You: {address}" in text
    assert "Assistant: I'm sorry, I couldn't send the transcript" in text


async def test_three_transcripts_a_day_then_a_clear_refusal(stack, customer_factory, mailbox):
    # The address is whatever the customer writes: the bot must not become a way to mail
    # strangers again and again.
    customer = await customer_factory()
    address = _address("lea", "example.com")
    await customer.say(f"please email the transcript to {address}")
    for n in range(4):
        if n:
            await customer.say("can you email me the transcript")
        answer = await customer.reply(lambda m: "transcript" in m.get("text", ""))
        if n < 3:
            assert answer["text"].startswith("Done: I've sent the transcript"), answer
            # Sent before the bot says so: the server has it (stored before its 250 reply).
            assert len(mailbox.messages_to(address)) == n + 1
        else:
            assert answer["text"].startswith("I've already sent the transcript"), answer
    assert len(mailbox.messages_to(address)) == 3
