"""The published parameters of the rules and of the watch on principals, read from policies/*.toml.

Officials edit these files; each module here reads one into the immutable value a pure module takes
(gateway.rules, gateway.watch), so a bad file fails at start with the file and the key named.
"""
