"""The chat's socket.io server, closing a connection whose packets cannot be decoded.

python-socketio and python-engineio decode what a client sends before any handler of ours
sees it, and some inputs make their decoders raise where nothing catches it: a packet whose
JSON is nested deeper than Python's recursion limit (`RecursionError`), an empty or
unnumbered WebSocket frame, an ack id of thousands of digits, a binary attachment nobody
announced, a polling body that is not UTF-8. Each then logged a traceback in the Rasa server's
log; at the engine.io level, Sanic also wrote a 500 on the upgraded WebSocket and the socket
was left half open until its ping timed out.

As the reference socket.io server does with a packet it cannot parse, such a connection is
closed: one warning line (`webchat.packet.malformed`), no traceback. No browser of ours sends
such a packet, so no customer is shown anything.
"""

from __future__ import annotations

import logging
from typing import Any, Dict, Optional

import engineio
from engineio import packet as engineio_packet
from engineio import payload as engineio_payload
from sanic import response
from socketio import AsyncServer

logger = logging.getLogger(__name__)

# What the libraries' decoders raise on input they cannot read.
UNDECODABLE = (ValueError, RecursionError, IndexError, KeyError, TypeError)


def _malformed(where: str, exc: BaseException, sid: Optional[str] = None) -> None:
    logger.warning("webchat.packet.malformed where=%s sid=%s error=%s", where, sid,
                   type(exc).__name__)


async def _close(eio: Any, sid: Optional[str]) -> None:
    """Closes the engine.io socket `sid`: its client gets engine.io's CLOSE packet.

    Not `AsyncServer.disconnect`, which waits until the client has read that packet: a polling
    client that never polls again would hold the request that closes it.
    """
    found = eio.sockets.get(sid) if sid is not None else None
    if found is not None:
        await found.close(wait=False)


def _decodable_frame(data: Any) -> bool:
    try:
        engineio_packet.Packet(encoded_packet=data)
    except UNDECODABLE as exc:
        _malformed("websocket", exc)
        return False
    return True


def _decodable_body(body: bytes) -> bool:
    try:
        engineio_payload.Payload(encoded_payload=body.decode("utf-8"))
    except UNDECODABLE as exc:
        _malformed("polling", exc)
        return False
    return True


def _guarded_websocket(websocket_class: Any) -> Any:
    """The engine.io driver's WebSocket, ending the connection on a frame it cannot decode.

    engine.io's receive loop decodes each frame outside its error handling, but treats an
    `IOError` from `wait` as the client gone: it then closes the socket properly.
    """

    class GuardedWebSocket(websocket_class):  # type: ignore[misc, valid-type]
        async def wait(self) -> Any:
            data = await super().wait()
            if not _decodable_frame(data):
                raise IOError("undecodable engine.io frame")
            return data

    return GuardedWebSocket


class GuardedEngineIO(engineio.AsyncServer):
    """engine.io's server with the frame and body checks above (Sanic driver)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The driver's table is shared by every server of the process: a copy of our own.
        drivers: Dict[str, Any] = dict(self._async)
        if drivers.get("websocket") is not None:
            drivers["websocket"] = _guarded_websocket(drivers["websocket"])
        self._async = drivers

    async def handle_request(self, *args: Any, **kwargs: Any) -> Any:
        """A polling body that cannot be decoded: 400, and its socket closed.

        A request for a socket already closed gets engine.io's 400 for an unknown session.
        """
        request = args[0] if args else None
        sid = request.args.get("sid") if request is not None else None
        found = self.sockets.get(sid) if sid else None
        if found is not None and found.closed:
            # engine.io would raise ("Session is disconnected"): a 500 and a traceback. Gone,
            # it answers 400 "Invalid session", as for any session it does not know.
            del self.sockets[sid]
        body = getattr(request, "body", None) or b""
        # A body over the packet limit is engine.io's to refuse, before anything decodes it.
        if getattr(request, "method", None) == "POST" and \
                len(body) <= self.max_http_buffer_size and not _decodable_body(body):
            await _close(self, sid)
            return response.text("Bad Request", status=400)
        return await super().handle_request(*args, **kwargs)


class GuardedServer(AsyncServer):
    """python-socketio's server, closing a connection that sends an undecodable packet."""

    def _engineio_server_class(self) -> Any:
        return GuardedEngineIO

    async def _handle_eio_message(self, eio_sid: str, data: Any) -> None:
        # Handlers run as tasks of their own (`async_handlers`): what is raised here comes
        # from decoding the packet (or its binary attachments) and dispatching it.
        try:
            await super()._handle_eio_message(eio_sid, data)
        except UNDECODABLE as exc:
            self._binary_packet.pop(eio_sid, None)
            _malformed("socketio", exc, eio_sid)
            await _close(self.eio, eio_sid)
