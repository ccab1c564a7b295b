"""The gRPC server: thin servicers over one request pipeline, plus health and reflection.

Each handler reads: authenticate → authorise → decide → project → log → answer (gate.py).
"""
