# Generates the protobuf and gRPC modules for activation.proto into actclient/gen/
# (ignored by git) with grpc_tools, and imports them. Regenerates when the proto is
# newer than the generated files; writes through a temporary folder and renames, so
# concurrent imports never see half-written modules.
import importlib
import os
import re
import sys
import tempfile

_HERE = os.path.dirname(os.path.abspath(__file__))
_GEN = os.path.join(_HERE, "gen")
# The repository's proto folder, three levels up from this package.
PROTO = os.path.normpath(
    os.path.join(_HERE, "..", "..", "..", "proto", "activation", "v1", "activation.proto"))
_FILES = ("activation_pb2.py", "activation_pb2_grpc.py")


def _stale():
    try:
        generated = min(os.path.getmtime(os.path.join(_GEN, f)) for f in _FILES)
    except OSError:
        return True
    if not os.path.exists(os.path.join(_GEN, "__init__.py")):
        return True
    return os.path.exists(PROTO) and os.path.getmtime(PROTO) > generated


def _generate():
    """Runs protoc from grpc_tools; raises RuntimeError with its output on failure."""
    from grpc_tools import protoc  # imported lazily: only needed to (re)generate

    if not os.path.exists(PROTO):
        raise RuntimeError("activation.proto not found at %s" % PROTO)
    os.makedirs(_GEN, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".gen-", dir=_GEN)
    include = os.path.dirname(PROTO)
    well_known = os.path.join(os.path.dirname(protoc.__file__), "_proto")
    args = ["protoc", "-I", include, "-I", well_known,
            "--python_out=" + tmp, "--grpc_python_out=" + tmp, PROTO]
    if protoc.main(args) != 0:
        raise RuntimeError("protoc failed on %s" % PROTO)
    # The gRPC module imports the messages as a top-level module; make it relative
    # so the generated code lives inside this package.
    grpc_path = os.path.join(tmp, "activation_pb2_grpc.py")
    with open(grpc_path) as f:
        text = f.read()
    text = re.sub(r"^import activation_pb2 as", "from . import activation_pb2 as", text,
                  flags=re.M)
    with open(grpc_path, "w") as f:
        f.write(text)
    with open(os.path.join(tmp, "__init__.py"), "w") as f:
        f.write("# Generated from activation.proto; not committed.\n")
    for name in _FILES + ("__init__.py",):
        os.replace(os.path.join(tmp, name), os.path.join(_GEN, name))
    os.rmdir(tmp)


def load():
    """Returns (activation_pb2, activation_pb2_grpc), generating them first if needed."""
    if _stale():
        _generate()
        importlib.invalidate_caches()
    pb = importlib.import_module(__package__ + ".gen.activation_pb2")
    pb_grpc = importlib.import_module(__package__ + ".gen.activation_pb2_grpc")
    return pb, pb_grpc
