"""Identity: the gateway CA, client certificates, the principal inside them, and revocation.

A caller's identity comes only from its verified certificate (DESIGN.md), so it all lives here.
"""
