"""What a log line may say about a customer (handoff/log_privacy.py)."""

from __future__ import annotations

import logging

import pytest

from handoff import log_privacy
from handoff.log_privacy import pseudonym, redact

KEY = b"log-key-of-the-tests"


def test_addresses_numbers_and_ids_do_not_reach_the_log():
    line = ('giveback.done conversation=f82a68200cec414794397ecbeb223c2e psid=1438582295629817 '
            '"POST /api/conversations/8856115230935500/claim HTTP/1.1" mail to anna@shop.fr '
            'failed, call +33 6 12 34 56 78 or 06.12.34.56.78')
    out = redact(line, KEY)
    for secret in ("f82a68200cec414794397ecbeb223c2e", "1438582295629817", "8856115230935500",
                   "anna@shop.fr", "12 34 56 78", "06.12"):
        assert secret not in out
    assert f"conversation={pseudonym('f82a68200cec414794397ecbeb223c2e', KEY)}" in out
    assert f"/api/conversations/{pseudonym('8856115230935500', KEY)}/claim" in out
    assert "mail to [email] failed, call [phone] or [phone]" in out


def test_what_names_no_customer_is_left_alone():
    for line in ("workers.stopped finished=12 cancelled=0",
                 "retention.pass.done conversations_checked=120 conversations_erased=3",
                 "stream.dead_letter stream=hf:v1:stream:events entry=1733150000123-0",
                 "conversation=c-0123456789ab already a pseudonym", "agent=None"):
        assert redact(line, KEY) == line


def test_a_pseudonym_is_the_same_in_every_process_with_the_same_key():
    assert pseudonym("abc", KEY) == pseudonym("abc", KEY) != pseudonym("abc", b"other")
    assert log_privacy.key_from({"HANDOFF_LOG_KEY": "k"}) == b"k"
    assert len(log_privacy.key_from({})) == 32  # none set: a random key for this process


@pytest.fixture
def installed():
    before = logging.getLogRecordFactory()
    log_privacy.install(KEY)
    try:
        yield
    finally:
        logging.setLogRecordFactory(before)
        log_privacy._installed = None


def test_every_record_of_the_process_is_rewritten_tracebacks_too(installed, caplog):
    logger = logging.getLogger("some.library")
    with caplog.at_level(logging.INFO):
        logger.info("sent to %s for conversation=%s", "zoe@example.org", "abcdef0123456789")
        try:
            raise ValueError("bad address zoe@example.org")
        except ValueError:
            logger.exception("failed")
    text = caplog.text
    assert "zoe@example.org" not in text and "abcdef0123456789" not in text
    assert "sent to [email] for conversation=c-" in text
    assert "ValueError: bad address [email]" in text
