"""The agent API: HTTP routes, the agents' WebSocket hub, errors and access checks."""
