"""Watching principals: per-certificate quotas that refuse harvesting and anomaly alerts that point auditors
at patterns worth a look, both over per-principal state kept in bounded memory.
"""
