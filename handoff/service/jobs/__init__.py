"""Background work of the handoff service: stream consumers and periodic jobs."""
