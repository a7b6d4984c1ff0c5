"""The bridge between the Rasa assistant and the human agents (see docs/architecture.md)."""
