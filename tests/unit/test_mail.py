"""The e-mailed transcript: its lines, its two parts, escaping, and settings."""

from __future__ import annotations

import asyncio
import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from handoff import mail
from handoff.notices import notice_event
from handoff.transcript import agent_metadata
from tests.events import bot, user

# 14 June 2025, 09:30 UTC = 11:30 in Paris (summer time).
T0 = dt.datetime(2025, 6, 14, 9, 30, tzinfo=dt.timezone.utc).timestamp()


def conversation():
    joined = {**notice_event("agent_joined", "en", "Marie"), "timestamp": T0 + 120}
    return [
        {"event": "session_started", "timestamp": T0 - 1000},
        user("an older session", "greet", ts=T0 - 999),
        {"event": "session_started", "timestamp": T0 - 10},
        user("hello", "greet", ts=T0),
        bot("Hello! Shall I put you through?", ts=T0 + 1,
            metadata={}) | {"data": {"buttons": [{"title": "Yes please", "payload": "/affirm"}]}},
        user("/affirm", "affirm", ts=T0 + 30),
        user("I want a person", "request_human", ts=T0 + 60),
        {"event": "pause", "timestamp": T0 + 61},
        joined,
        bot("Hi, I'm looking at your order <b>now</b>", ts=T0 + 180,
            metadata=agent_metadata("marie", "Marie <Lead>", "a1", None)),
        user("thanks <script>alert(1)</script> & bye", "thank", ts=T0 + 240),
        {"event": "user", "timestamp": T0 + 300, "text": "/EXTERNAL_handback_anything_else",
         "metadata": {"is_external": True}, "parse_data": {}},
        {"event": "resume", "timestamp": T0 + 300},
    ]


def test_lines_name_every_speaker_with_local_times_and_only_this_session():
    lines = mail.transcript_lines(conversation(), "en", "Europe/Paris")
    assert [(line.time, line.speaker, line.text) for line in lines] == [
        ("11:30", "You", "hello"),
        ("11:30", "Assistant", "Hello! Shall I put you through?"),
        ("11:30", "You", "Yes please"),  # the button's title, not its payload
        ("11:31", "You", "I want a person"),
        ("11:32", "", "Marie from our team has joined the conversation."),
        ("11:33", "Marie <Lead> (customer service)", "Hi, I'm looking at your order <b>now</b>"),
        ("11:34", "You", "thanks <script>alert(1)</script> & bye"),
    ]
    assert {line.day for line in lines} == {"14 June 2025"}


def test_french_lines_and_headings():
    message = mail.transcript_message(conversation(), "fr", "anna@example.com",
                                      "service@example.com", now=T0)
    assert message["Subject"] == "Transcription de votre conversation avec notre service client"
    text = message.get_body(("plain",)).get_content()
    assert "Vous: hello" in text and "14 juin 2025" in text
    assert "Marie <Lead> (service client): Hi" in text
    assert "fuseau Europe/Paris" in text


def test_the_message_has_a_text_and_an_html_part_and_the_html_escapes_everything():
    message = mail.transcript_message(conversation(), "en", "anna@example.com",
                                      "service@example.com", now=T0)
    assert message.get_content_type() == "multipart/alternative"
    assert message["To"] == "anna@example.com"
    assert message["Subject"] == "Transcript of your conversation with our customer service"
    text = message.get_body(("plain",)).get_content()
    assert "[11:34] You: thanks <script>alert(1)</script> & bye" in text
    page = message.get_body(("html",)).get_content()
    assert "<script>" not in page and "<b>now" not in page and "<Lead>" not in page
    assert "thanks &lt;script&gt;alert(1)&lt;/script&gt; &amp; bye" in page
    assert "Marie &lt;Lead&gt; (customer service)" in page
    assert "order &lt;b&gt;now&lt;/b&gt;" in page


def test_times_follow_the_time_zone_given():
    lines = mail.transcript_lines(conversation(), "en", "UTC")
    assert lines[0].time == "09:30"
    assert dt.datetime.fromtimestamp(T0, ZoneInfo("UTC")).hour == 9


@pytest.mark.parametrize("address, expected", [
    ("anna@example.com", "anna@example.com"),
    ("sam_w+shop@mail.co.uk", "sam_w+shop@mail.co.uk"),
    ("anna@example.com\r\nBcc: x@evil.test", None),
    ("Anna <anna@example.com>", None),
    ("a@b@c", None),
    ("", None),
    (None, None),
])
def test_only_plain_addresses_are_accepted(address, expected):
    assert mail.valid_address(address) == expected


def test_settings_from_the_environment():
    assert not mail.MailSettings.from_env({}).configured
    assert not mail.MailSettings.from_env({"SMTP_HOST": "smtp.example.com"}).configured
    settings = mail.MailSettings.from_env({"SMTP_HOST": "smtp.example.com", "SMTP_PORT": "587",
                                           "SMTP_FROM": "service@example.com",
                                           "SMTP_STARTTLS": "1", "SMTP_TIMEOUT": "bad"})
    assert settings.configured and settings.port == 587 and settings.starttls
    assert settings.timeout == mail.MailSettings.timeout


def test_sending_without_a_server_configured_is_a_mail_error():
    message = mail.transcript_message(conversation(), "en", "anna@example.com", "s@example.com")
    with pytest.raises(mail.MailError, match="not configured"):
        asyncio.run(mail.send(message, mail.MailSettings()))
