"""The rules of docs/domain.md as pure functions over records: each decision is a value with reasons.

Nothing here does I/O; every reason's code is a rule ID or a named reason code of docs/domain.md.
"""
