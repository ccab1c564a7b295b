"""Bureau adapters: each bureau's own files in, each bureau's own dialect out.

One module per bureau, each providing a Bureau (adapters/contract.py) that adapters/registry.py maps its name to;
`adapters.reading` reads the files and `adapters.normalising` the fields (docs/bureau-files.md).
"""
