"""Identity: the gateway CA, client certificates, the principal inside them, and revocation.

A caller's identity comes only from its verified certificate (docs/api.md), so it all lives here.
"""
