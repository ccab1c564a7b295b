"""Generated from protos/ by tools/genprotos.py: do not edit."""
