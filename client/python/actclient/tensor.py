# NumPy arrays <-> activation.v1.Tensor, through raw_data: elements packed
# little-endian in row-major order (see activation.proto). One tobytes() out and one
# frombuffer() in, no per-element work in Python.
import numpy as np

_LE = {np.dtype(np.float32): np.dtype("<f4"), np.dtype(np.float64): np.dtype("<f8")}


def as_float_array(x, dtype=None):
    """Returns x as a float32 or float64 ndarray: float32 stays float32, other input
    becomes float64 unless `dtype` says otherwise."""
    a = np.asarray(x)
    if dtype is None:
        dtype = np.float32 if a.dtype == np.float32 else np.float64
    return np.asarray(a, dtype=dtype)


def to_proto(pb, x, dtype=None):
    """Encodes an array (see as_float_array) as a Tensor with raw_data."""
    a = as_float_array(x, dtype)
    le = _LE[a.dtype]
    t = pb.Tensor(
        dtype=pb.DATA_TYPE_FLOAT32 if a.dtype == np.float32 else pb.DATA_TYPE_FLOAT64,
        shape=a.shape,
        raw_data=np.ascontiguousarray(a, dtype=le).tobytes())
    return t


def from_proto(pb, t):
    """Decodes a Tensor (raw or typed) into a writable native-order ndarray."""
    shape = tuple(t.shape)
    if t.float_data:
        return np.array(t.float_data, dtype=np.float32).reshape(shape)
    if t.double_data:
        return np.array(t.double_data, dtype=np.float64).reshape(shape)
    le = np.dtype("<f4") if t.dtype == pb.DATA_TYPE_FLOAT32 else np.dtype("<f8")
    flat = np.frombuffer(t.raw_data, dtype=le)
    return flat.astype(le.newbyteorder("="), copy=True).reshape(shape)
