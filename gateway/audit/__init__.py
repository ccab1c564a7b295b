"""The access log: every request, allowed or denied, as an entry written before the answer leaves.

Stage 5 makes it a verifiable Merkle log (RFC 9162); entries already have canonical bytes for that.
"""
