# Generates the protobuf and gRPC modules of the activation.proto this package carries
# (actclient/proto/activation/v1/activation.proto) with grpc_tools, once per process,
# into a temporary folder that is removed right after loading: nothing is written into
# the installed package, so a read-only site-packages works too.
import importlib.util
import os
import shutil
import sys
import tempfile

_HERE = os.path.dirname(os.path.abspath(__file__))
# The proto keeps its repository name, so its descriptors (file
# "activation/v1/activation.proto") are the same as any other copy's in the process.
PROTO_ROOT = os.path.join(_HERE, "proto")
PROTO_NAME = "activation/v1/activation.proto"


def _load_module(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def load():
    """Returns (activation_pb2, activation_pb2_grpc) as modules of this package.

    Raises RuntimeError naming the file when the .proto is missing or protoc fails.
    """
    pb_name = __package__ + "._pb.activation_pb2"
    if pb_name in sys.modules:
        return sys.modules[pb_name], sys.modules[__package__ + "._pb.activation_pb2_grpc"]
    from grpc_tools import protoc  # Debian: python3-grpc-tools

    proto = os.path.join(PROTO_ROOT, PROTO_NAME)
    if not os.path.isfile(proto):
        raise RuntimeError("actclient is incomplete: %s is missing (reinstall the package)"
                           % proto)
    well_known = os.path.join(os.path.dirname(protoc.__file__), "_proto")
    tmp = tempfile.mkdtemp(prefix="actclient-")
    try:
        args = ["protoc", "-I", PROTO_ROOT, "-I", well_known,
                "--python_out=" + tmp, "--grpc_python_out=" + tmp, PROTO_NAME]
        if protoc.main(args) != 0:
            raise RuntimeError("protoc failed on %s" % proto)
        out = os.path.join(tmp, "activation", "v1")
        grpc_path = os.path.join(out, "activation_pb2_grpc.py")
        with open(grpc_path) as f:
            text = f.read()
        # The gRPC module imports the messages by their proto path; point it at ours.
        text = text.replace("from activation.v1 import activation_pb2 as",
                            "from %s._pb import activation_pb2 as" % __package__)
        with open(grpc_path, "w") as f:
            f.write(text)
        if __package__ + "._pb" not in sys.modules:
            package = importlib.util.module_from_spec(
                importlib.machinery.ModuleSpec(__package__ + "._pb", None, is_package=True))
            sys.modules[__package__ + "._pb"] = package
        pb = _load_module(pb_name, os.path.join(out, "activation_pb2.py"))
        pb_grpc = _load_module(__package__ + "._pb.activation_pb2_grpc", grpc_path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return pb, pb_grpc
