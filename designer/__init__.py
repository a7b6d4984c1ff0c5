"""Tools for bot designers: the designer's check and the before/after report.

`python -m designer check` reads only YAML and Python source (no Rasa, no TensorFlow), so it
runs in a second or two; `python -m designer report` trains and evaluates two revisions.
"""
