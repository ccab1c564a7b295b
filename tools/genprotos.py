"""Generate the Python protobuf/gRPC code in permitgw/ from protos/ (run by `make protos`).

The generated code is committed; tests/unit/test_generated_code.py fails when it is stale.
"""
from __future__ import annotations

import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent


def generate(out_dir: pathlib.Path) -> list[pathlib.Path]:
    """Run protoc over every .proto under protos/ into out_dir; return the files written."""
    import grpc_tools
    from grpc_tools import protoc

    protos = sorted(p.relative_to(ROOT / "protos").as_posix() for p in (ROOT / "protos").rglob("*.proto"))
    include = str(pathlib.Path(grpc_tools.__file__).parent / "_proto")
    args = ["protoc", f"-I{ROOT / 'protos'}", f"-I{include}", f"--python_out={out_dir}",
            f"--pyi_out={out_dir}", f"--grpc_python_out={out_dir}", *protos]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")
    written = []
    for d in {p.parent for p in out_dir.rglob("*_pb2*.py*")} | {out_dir / "permitgw"}:
        cur = d
        while cur != out_dir:
            init = cur / "__init__.py"
            if not init.exists():
                init.write_text('"""Generated from protos/ by tools/genprotos.py: do not edit."""\n')
            cur = cur.parent
    written = sorted(p for p in out_dir.rglob("*") if p.is_file())
    return written


if __name__ == "__main__":
    generate(ROOT)
    (ROOT / "permitgw" / "py.typed").touch()
    print("generated into", ROOT / "permitgw", file=sys.stderr)
