"""Regenerate the committed gRPC stubs from the .proto files beside this script.

The generated ``*_pb2.py``/``*_pb2_grpc.py`` files are committed so a run needs only ``grpcio`` and
``protobuf``; this script (needs ``grpcio-tools``) is how they were made:
``python -m lanner.outputs.grpcapi.regen [outdir]``.
"""

from __future__ import annotations

import sys
from pathlib import Path

PROTOS = ("schema.proto", "outputs.proto", "version.proto")


def generate(out_root: Path) -> None:
    """Write the stubs under ``out_root/lanner/outputs/grpcapi`` (imports are package-absolute)."""
    import grpc_tools
    from grpc_tools import protoc

    here = Path(__file__).resolve().parent
    repo = here.parents[2]
    include = Path(grpc_tools.__file__).parent / "_proto"
    (out_root / "lanner/outputs/grpcapi").mkdir(parents=True, exist_ok=True)
    for name in PROTOS:
        args = ["protoc", f"-I{repo}", f"-I{include}", f"--python_out={out_root}",
                f"--grpc_python_out={out_root}", str(here / name)]
        if protoc.main(args) != 0:
            raise RuntimeError(f"protoc failed on {here / name}")


if __name__ == "__main__":
    generate(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[3])
