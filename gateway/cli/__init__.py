"""The `permitgw` command (docs/cli.md): init, cert, import, serve, audit, synth, demo.

Each subcommand is a small function over the layers; errors are one clear line and a non-zero exit.
"""
