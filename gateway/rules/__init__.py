"""The rules of DOMAIN.md as pure functions over records: each decision is a value with reasons.

Nothing here does I/O; every reason's code is a DOMAIN.md rule ID or a named reason code.
"""
