"""permit-gateway: Ningbo's residence-permit data-sharing gateway.

Layers (README, Layout): domain → rules → store/policy/audit/identity → server/cli.
"""
__version__ = "0.1.0"
