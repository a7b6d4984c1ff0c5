"""Custom actions run by the rasa-sdk action server."""
