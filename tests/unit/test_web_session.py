"""Web chat session tokens: issued and signed by the server."""

import pytest

from bot.web_session import SessionSigner


def test_issued_tokens_verify_and_forged_ones_do_not():
    signer = SessionSigner("s" * 32)
    conversation_id, token = signer.issue()
    assert signer.verify(token) == conversation_id
    assert signer.token_for(conversation_id) == token
    other_id, _ = signer.issue()
    assert other_id != conversation_id
    forged = [conversation_id, f"{conversation_id}.", f"other.{token.split('.')[1]}",
              token + "x", token.replace(".", ".."), None, 42, "x" * 500]
    assert [signer.verify(f) for f in forged] == [None] * len(forged)
    assert SessionSigner("t" * 32).verify(token) is None  # another secret


def test_a_short_secret_is_refused():
    with pytest.raises(ValueError, match="at least 16"):
        SessionSigner("short")
