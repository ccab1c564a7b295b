"""The access log: every request, allowed or denied, as an entry written before the answer leaves.

A verifiable Merkle log (RFC 9162) over the entries' canonical bytes, with signed checkpoints (docs/architecture.md).
"""
