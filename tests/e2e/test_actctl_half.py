"""actctl with bfloat16 and float16 tensors against a real actd: float16 .npy
files in and out as they are, bfloat16 .npy files as uint16 bit patterns
(--dtype bfloat16), typed values rounded to the type, and raw and typed
encodings agreeing bit for bit with NumPy's rounding of the exact results.
"""

import numpy as np

from actctl_e2e import ActctlTestCase, main, response_tensor


def bf16_bits(x):
    """float32 values rounded to bfloat16 (to nearest even) as uint16 bits."""
    bits = np.asarray(x, dtype=np.float32).view(np.uint32).astype(np.uint64)
    rounded = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16
    return rounded.astype(np.uint16)


def bf16_values(bits):
    return (np.asarray(bits, dtype=np.uint32) << 16).view(np.float32)


class HalfFloatTest(ActctlTestCase):
    """bfloat16 and float16 through the server."""

    def test_float16_npy_round_trip(self):
        x = np.array([-2.5, -0.0, 0.333, 65504, 6e-8], dtype=np.float16)
        np.save(self.path("h.npy"), x)
        self.ok("forward", "relu", "--input", self.path("h.npy"),
                "--output", self.path("hy.npy"))
        y = np.load(self.path("hy.npy"))
        self.assertEqual(y.dtype, np.float16)
        np.testing.assert_array_equal(y, np.maximum(x, np.float16(0)))
        response = self.json_of("forward", "identity", "--values", "0.1,70000",
                                "--dtype", "float16", "--encoding", "raw")
        self.assertEqual(response["output"]["dtype"], "DATA_TYPE_FLOAT16")
        np.testing.assert_array_equal(response_tensor(response, "output"),
                                      np.array([0.1, np.inf], dtype=np.float16))

    def test_bfloat16_bit_pattern_npy_round_trip(self):
        x = np.array([-3.0, -0.5, 0.0, 1.0, 2.5e38], dtype=np.float32)
        bits = bf16_bits(x)
        np.save(self.path("b.npy"), bits)
        self.ok("forward", "relu", "--input", self.path("b.npy"), "--dtype", "bfloat16",
                "--output", self.path("by.npy"))
        y = np.load(self.path("by.npy"))
        self.assertEqual(y.dtype, np.uint16)
        np.testing.assert_array_equal(bf16_values(y), np.maximum(bf16_values(bits), 0))

    def test_bfloat16_typed_and_raw_agree(self):
        raw = self.json_of("backward", "sigmoid", "--values", "0,1", "--dtype",
                           "bfloat16", "--encoding", "raw")
        typed = self.json_of("backward", "sigmoid", "--values", "0,1", "--dtype",
                             "bfloat16", "--encoding", "typed")
        self.assertEqual(raw["gradInput"]["dtype"], "DATA_TYPE_BFLOAT16")
        np.testing.assert_array_equal(response_tensor(raw, "gradInput"),
                                      response_tensor(typed, "gradInput"))
        s = 1 / (1 + np.exp(-1.0))
        np.testing.assert_array_equal(response_tensor(raw, "gradInput"),
                                      bf16_values(bf16_bits([0.25, s * (1 - s)])))


if __name__ == "__main__":
    main()
