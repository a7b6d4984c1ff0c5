"""What customers ask that the bot can't answer yet (issue 8), for bot designers.

`source` reads the customer messages of handed-off and fallback turns from Rasa's tracker
store, `text` lemmatises them with spaCy, `grouping` groups, names and ranks them, `export`
writes a draft NLU intent and FAQ answer; `__main__` is the command line.
"""
