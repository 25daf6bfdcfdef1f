# Tensors between the caller's types and activation.v1.Tensor.
#
# Accepted inputs are real floating tensors: NumPy arrays of float16, float32 or
# float64, torch tensors of bfloat16, float16, float32 or float64 (torch is imported
# only when such a tensor arrives), Python numbers and (nested) lists of them, and
# uint16 arrays of bfloat16/float16 bit patterns with an explicit dtype. Anything
# else (None, complex, bool, integer arrays, objects) is a TypeError that says what is
# accepted. Tensors travel as raw_data: little-endian, row-major (see
# activation.proto), one tobytes() out and one frombuffer() in.
import numpy as np

DTYPES = ("float32", "float64", "float16", "bfloat16")
_ACCEPTED = ("a real floating tensor: a NumPy array of float16/float32/float64, a torch "
             "tensor of bfloat16/float16/float32/float64, a Python number or a (nested) "
             "list of numbers, or a uint16 array of bit patterns with "
             "dtype='bfloat16' or 'float16'")
# Wire dtype name -> (DataType enum name, little-endian NumPy dtype of raw_data).
_WIRE = {
    "float32": ("DATA_TYPE_FLOAT32", np.dtype("<f4")),
    "float64": ("DATA_TYPE_FLOAT64", np.dtype("<f8")),
    "float16": ("DATA_TYPE_FLOAT16", np.dtype("<f2")),
    "bfloat16": ("DATA_TYPE_BFLOAT16", np.dtype("<u2")),  # bit patterns
}


# ---- bfloat16 <-> float32 -------------------------------------------------------

def bfloat16_bits_to_float32(bits):
    """uint16 bfloat16 bit patterns -> float32 values (exact: bf16 is float32's top half)."""
    bits = np.asarray(bits, dtype=np.uint16)
    return (bits.astype(np.uint32) << 16).view(np.float32)


def _f64_to_f32_round_to_odd(a):
    # Rounding float64 -> float32 -> bfloat16 with round-to-nearest twice can land on
    # the wrong neighbour (double rounding). Rounding the first step to odd (an inexact
    # result keeps its last bit set) makes the second step correct, because float32
    # has more than bfloat16's 8 + 2 significand bits.
    with np.errstate(over="ignore"):
        y = a.astype(np.float32)
    inexact = (y.astype(np.float64) != a) & ~np.isnan(a)
    even = (y.view(np.uint32) & 1) == 0
    fix = inexact & even
    if fix.any():
        toward = np.where(a[fix] > y[fix].astype(np.float64), np.inf, -np.inf)
        y[fix] = np.nextafter(y[fix], toward.astype(np.float32))
    return y


def to_bfloat16_bits(x):
    """Real floating values -> uint16 bfloat16 bit patterns, rounded to nearest even.

    NaN stays NaN (quiet, sign kept), values beyond the largest bfloat16 round to ±inf.
    float64 input is rounded once, correctly (no double rounding through float32).
    """
    a = np.asarray(x)
    if a.dtype == np.float64:
        a = _f64_to_f32_round_to_odd(a)
    a = np.ascontiguousarray(a, dtype=np.float32)
    b = a.view(np.uint32)
    # Add half an ulp of bfloat16 minus one, plus the kept lowest bit: ties go to even.
    rounded = ((b + np.uint32(0x7FFF) + ((b >> 16) & 1)) >> 16).astype(np.uint16)
    nan = np.isnan(a)
    if nan.any():
        rounded[nan] = ((b[nan] >> 16) | 0x0040).astype(np.uint16)
    return rounded


# ---- accepting inputs -------------------------------------------------------------

def _is_torch(x):
    return type(x).__module__.split(".")[0] == "torch"


def _torch_to_numpy(x, what):
    """A torch tensor -> (NumPy array in wire form, wire dtype name)."""
    import torch  # only when the caller passed a torch tensor

    t = x.detach().cpu().contiguous()
    if t.dtype == torch.bfloat16:
        return t.view(torch.int16).numpy().view(np.uint16), "bfloat16"
    if t.dtype in (torch.float16, torch.float32, torch.float64):
        return t.numpy(), str(t.dtype).replace("torch.", "")
    raise TypeError("%s is a torch tensor of %s; expected %s" % (what, t.dtype, _ACCEPTED))


def _real_array(x, what):
    """Checks x is a real floating tensor (not bit patterns); returns an ndarray."""
    if x is None:
        raise TypeError("%s is None; expected %s" % (what, _ACCEPTED))
    if _is_torch(x):
        a, wire = _torch_to_numpy(x, what)
        return bfloat16_bits_to_float32(a) if wire == "bfloat16" else a
    is_array = isinstance(x, (np.ndarray, np.generic))
    try:
        a = np.asarray(x)
    except (ValueError, TypeError) as e:  # ragged lists and the like
        raise TypeError("%s cannot be read as a tensor (%s); expected %s"
                        % (what, e, _ACCEPTED)) from None
    if a.dtype.kind == "f" and a.dtype.itemsize in (2, 4, 8):
        return a
    if a.dtype.kind in "iu" and not is_array:
        return a.astype(np.float64)  # Python ints: numbers like any other
    if a.dtype == np.uint16:
        raise TypeError("%s is a uint16 array: pass dtype='bfloat16' or dtype='float16' "
                        "if it holds bit patterns, else convert it with "
                        "x.astype(np.float32)" % what)
    raise TypeError("%s has dtype %s; expected %s" % (what, a.dtype, _ACCEPTED))


class Encoded:
    """An input ready for the wire: `array` in wire form (uint16 bits for bfloat16),
    `wire` its dtype name, and `restore`, which turns a decoded output of the same
    kind back into the caller's type (NumPy, bit patterns or torch)."""

    def __init__(self, array, wire, kind):
        self.array, self.wire, self.kind = array, wire, kind

    def restore(self, a):
        """Decoded wire array -> the caller's type. Wider results (float32 parameter
        gradients of 16-bit inputs) keep their own dtype."""
        if self.kind == "torch":
            import torch

            if a.dtype == np.uint16:  # bfloat16 bits
                return torch.from_numpy(a.view(np.int16).copy()).view(torch.bfloat16)
            return torch.from_numpy(np.ascontiguousarray(a))
        if self.kind == "bits":
            return a.view(np.uint16) if a.dtype == np.float16 else a
        if self.kind == "float" and a.dtype == np.uint16:
            return bfloat16_bits_to_float32(a)
        return a


def encode_input(x, dtype=None, what="x"):
    """Checks and converts the main input of a call; returns an Encoded.

    dtype None keeps the input's own type (Python numbers become float64). A dtype
    name converts: uint16 input with 'bfloat16'/'float16' is taken as bit patterns and
    results come back as bit patterns; float input with 'bfloat16' is rounded to
    bfloat16 on the way out and results come back as float32 values.
    """
    if dtype is not None and dtype not in DTYPES:
        raise ValueError("dtype %r: expected one of %s" % (dtype, ", ".join(DTYPES)))
    if _is_torch(x):
        a, wire = _torch_to_numpy(x, what)
        if dtype is not None and dtype != wire:
            raise TypeError("%s is a torch %s tensor but dtype=%r: convert the tensor "
                            "with .to(...) instead" % (what, wire, dtype))
        return Encoded(a, wire, "torch")
    if isinstance(x, (np.ndarray, np.generic)) and x.dtype == np.uint16 and dtype in (
            "bfloat16", "float16"):
        a = np.asarray(x)
        return Encoded(a if dtype == "bfloat16" else a.view(np.float16), dtype, "bits")
    a = _real_array(x, what)
    wire = dtype or a.dtype.name  # float16, float32 or float64 (any byte order)
    return Encoded(cast(a, wire), wire, "float")


def encode_like(value, enc, what):
    """A companion tensor (dy, y, a weight) in the main input's wire dtype."""
    if (enc.kind == "bits" and isinstance(value, (np.ndarray, np.generic))
            and value.dtype == np.uint16):
        a = np.asarray(value)
        return a if enc.wire == "bfloat16" else a.view(np.float16)
    return cast(_real_array(value, what), enc.wire)


def cast(a, wire):
    """A real floating array -> wire form of `wire` (rounded to nearest even)."""
    if wire == "bfloat16":
        return to_bfloat16_bits(a)
    return np.asarray(a, dtype=np.dtype(wire))


# ---- the wire ---------------------------------------------------------------------

def to_proto(pb, a, wire):
    """An array in wire form -> a Tensor with raw_data."""
    enum_name, le = _WIRE[wire]
    return pb.Tensor(dtype=getattr(pb, enum_name), shape=a.shape,
                     raw_data=np.ascontiguousarray(a, dtype=le).tobytes())


def from_proto(pb, t):
    """A Tensor (raw or typed) -> a writable native-order array in wire form: float32,
    float64, float16, or uint16 bit patterns for bfloat16."""
    shape = tuple(t.shape)
    wire = {getattr(pb, v[0]): k for k, v in _WIRE.items()}.get(t.dtype)
    if t.double_data:
        return np.array(t.double_data, dtype=np.float64).reshape(shape)
    if t.float_data:
        values = np.array(t.float_data, dtype=np.float32).reshape(shape)
        return cast(values, wire) if wire in ("bfloat16", "float16") else values
    if wire is None:
        raise ValueError("response tensor has dtype %d, unknown to this client" % t.dtype)
    le = _WIRE[wire][1]
    flat = np.frombuffer(t.raw_data, dtype=le)
    return flat.astype(le.newbyteorder("="), copy=True).reshape(shape)
