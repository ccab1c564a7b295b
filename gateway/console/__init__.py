"""The security officers' web console: HTTPS with client certificates from the gateway CA, served beside gRPC.

A transport like gateway/server: every page view, search and export walks the same gate (authenticate by the
verified client certificate, decide by the policy table under purpose `access-audit`, log) before its answer
leaves; it reads the access log through the store port and the audit use cases, never SQL.
"""
