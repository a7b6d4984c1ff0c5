"""Rasa-side code: the web chat channel and the language detector."""
