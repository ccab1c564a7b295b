"""Pure value types and records of the residence-permit domain.

No I/O here: everything is plain data that rules, adapters and the store share.
"""
