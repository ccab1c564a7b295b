"""Storage: a port (what the gateway needs from a database) and its implementations.

PII is encrypted here, at the edge of the database, so no other layer handles ciphertext or keys.
"""
