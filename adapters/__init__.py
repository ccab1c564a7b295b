"""Bureau adapters: each bureau's own files in, each bureau's own dialect out.

One module per bureau; `adapters.common` holds what every bureau needs (docs/bureau-files.md).
"""
