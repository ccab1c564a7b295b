"""Authorisation: who may ask what, for which purpose, seeing which fields.

Casbin reads the policy files; decisions are precomputed into a table so requests never race in casbin.
"""
