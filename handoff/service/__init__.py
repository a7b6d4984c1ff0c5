"""The handoff service (`python -m handoff`): what only its process runs.

- `app`: the aiohttp application, its lifecycle and the typed keys of what it holds;
- `api/`: the agent API and console routes, the agents' WebSocket hub, errors and access checks;
- `jobs/`: background work: the stream consumers (`workers`), assignment, abandonment, SLAs;
- `insights/`: what supervisors read: the dashboard, eNPS, the miner, good answers;
- `static/`: the console, dashboard, chat page and widget.
The live conversation is `handoff.relay`; what every process shares is the rest of `handoff`.
"""
