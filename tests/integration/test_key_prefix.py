"""`HANDOFF_KEY_PREFIX` reaches every process (issue 13): the Rasa server's channels and event
broker name their keys as the handoff service does, under any prefix."""

from __future__ import annotations

import pytest
from rasa.shared.utils.io import read_config_file
from rasa.utils.endpoints import read_endpoint_config

from bot.broker import RedisStreamEventBroker
from bot.messenger import MessengerInput
from bot.web import WebChatInput
from handoff.settings import Settings
from stack.model import ROOT
from stack.services import Ports, Stack

pytestmark = [pytest.mark.integration,
              pytest.mark.filterwarnings("ignore:the load_module:DeprecationWarning")]

PREFIX = "shop42:v1"


@pytest.fixture
def environment(redis_server, monkeypatch, tmp_path):
    stack = Stack(model=tmp_path / "none.tar.gz", run_dir=tmp_path, ports=Ports.free(),
                  redis_url=redis_server.url, say=lambda _: None)
    monkeypatch.setenv("HANDOFF_KEY_PREFIX", PREFIX)
    for name, value in stack.env().items():
        monkeypatch.setenv(name, value)
    return stack


async def test_the_rasa_side_uses_the_operators_prefix(environment):
    assert environment.env()["HANDOFF_KEY_PREFIX"] == PREFIX
    broker = await RedisStreamEventBroker.from_endpoint_config(
        read_endpoint_config(str(ROOT / "endpoints.yml"), "event_broker"))
    credentials = read_config_file(str(ROOT / "credentials.yml"))
    web = WebChatInput.from_credentials(credentials["bot.web.WebChatInput"])
    messenger = MessengerInput.from_credentials(credentials["bot.messenger.MessengerInput"])
    service = Settings.from_env()
    try:
        assert service.key_prefix == PREFIX
        assert broker._stream == f"{PREFIX}:stream:events"
        assert web.keys.prefix == PREFIX and messenger.keys.prefix == PREFIX
    finally:
        await broker.close()
        await messenger.api.close()
