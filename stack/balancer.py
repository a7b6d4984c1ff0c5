"""HAProxy in front of several Rasa and handoff processes (`./run.sh --rasa N --handoff M`).

One public address for customers and agents, as a deployment has (docs/deploy.md):
- `/socket.io/` (the chat's socket.io) and `/webhooks/` (Messenger, the channels' health) go to
  a Rasa process. socket.io's polling transport sends several requests that must reach the
  process holding the session: a cookie set by HAProxy keeps a browser on its process (the chat
  page is served from the same address, so the browser sends it back). WebSocket upgrades pass.
- everything else (console, agent API and its WebSocket, chat page, widget) goes to a handoff
  service, in turn.
Rasa's HTTP API (`/conversations`, `/model`...) is not behind it: the handoff service reaches it
on a second, private front (`rasa_api_port`), in turn across the Rasa processes.

Every backend is checked (Rasa: its channel's health route; the handoff service: `/api/flows`,
401 without a session) and left out while it fails, so a process restarting costs no request.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import List

INSTALL = "apt-get install haproxy"


def haproxy_binary() -> str:
    """Where HAProxy is; an explanation (how to install it) if it is not."""
    binary = shutil.which("haproxy") or ("/usr/sbin/haproxy"
                                         if Path("/usr/sbin/haproxy").exists() else None)
    if binary is None:
        raise FileNotFoundError(f"HAProxy is needed for several processes: `{INSTALL}`")
    return binary


def config(public_port: int, rasa_api_port: int, rasa_ports: List[int],
           handoff_ports: List[int], stats_port: int) -> str:
    """HAProxy's configuration for these ports (all on 127.0.0.1).

    `stats_port` serves HAProxy's figures (`/;csv`: sessions and health of each process).
    """
    rasa = [f"    server rasa{n} 127.0.0.1:{port} check cookie rasa{n}"
            for n, port in enumerate(rasa_ports, 1)]
    rasa_api = [f"    server rasa{n} 127.0.0.1:{port} check"
                for n, port in enumerate(rasa_ports, 1)]
    handoff = [f"    server handoff{n} 127.0.0.1:{port} check"
               for n, port in enumerate(handoff_ports, 1)]
    return "\n".join([
        # No `maxconn`: HAProxy takes it from the limit of open files it is given.
        "global",
        "defaults",
        "    mode http",
        "    option forwardfor",  # the handoff service throttles sign-ins per client address
        "    timeout connect 5s",
        "    timeout client 60s",
        "    timeout server 60s",
        "    timeout tunnel 1h",  # WebSockets (chat and console) stay open
        "    timeout http-keep-alive 60s",
        "    default-server inter 1s fall 2 rise 1",
        "",
        "frontend public",
        f"    bind 127.0.0.1:{public_port}",
        "    acl to_rasa path_beg /socket.io/ /webhooks/",
        "    use_backend rasa if to_rasa",
        "    default_backend handoff",
        "",
        "backend rasa",
        "    balance roundrobin",
        "    cookie hf_rasa insert indirect nocache httponly",
        "    option httpchk",
        f"    {_check('/webhooks/socketio/')}",
        "    http-check expect status 200",
        *rasa,
        "",
        "frontend rasa_api",  # private: the handoff service's way to Rasa's HTTP API
        f"    bind 127.0.0.1:{rasa_api_port}",
        "    default_backend rasa_api",
        "",
        "backend rasa_api",
        "    balance roundrobin",
        "    option httpchk",
        f"    {_check('/webhooks/socketio/')}",
        "    http-check expect status 200",
        *rasa_api,
        "",
        "backend handoff",
        "    balance roundrobin",
        "    option httpchk",
        f"    {_check('/api/flows')}",
        "    http-check expect status 401",
        *handoff,
        "",
        "frontend stats",
        f"    bind 127.0.0.1:{stats_port}",
        "    stats enable",
        "    stats uri /",
        "",
    ])


def _check(path: str) -> str:
    # HTTP/1.1 with a Host the processes answer: the handoff service refuses requests naming
    # no host it knows (DNS rebinding defence), and HAProxy's default check names none.
    return f"http-check send meth GET uri {path} ver HTTP/1.1 hdr Host 127.0.0.1"
