"""Synthetic bureau files for demos, tests and benchmarks: consistent people, deterministic by seed.

No real person is in them: names come from common-character lists and numbers are generated.
"""
