"""The designer's checks, one module per guardrail; each has `check(project) -> [Finding]`."""
