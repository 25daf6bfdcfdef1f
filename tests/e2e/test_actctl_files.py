"""actctl's tensor files against a real actd: .npy both ways through NumPy,
.csv, .json, the .npz or side files that --output writes for parameter
gradients and extras, and the refusal of ambiguous 16-bit integer files.
The 16-bit round trips through the server are in test_actctl_half.py.
"""

import json

import numpy as np

from actctl_e2e import ActctlTestCase, main, response_tensor


class FilesTest(ActctlTestCase):
    def test_npy_written_by_actctl_reads_in_numpy(self):
        for dtype, np_dtype in (("float32", np.float32), ("float64", np.float64)):
            out = self.path("y_%s.npy" % dtype)
            self.ok("forward", "relu", "--values", "-1,2,-3,4,5,-6", "--shape", "2,3",
                    "--dtype", dtype, "--output", out)
            y = np.load(out)
            self.assertEqual(y.dtype, np_dtype)
            self.assertEqual(y.shape, (2, 3))
            np.testing.assert_array_equal(y, [[0, 2, 0], [4, 5, 0]])

    def test_npy_written_by_numpy_reads_in_actctl(self):
        rng = np.random.default_rng(3)
        x32 = rng.standard_normal((2, 3, 4)).astype(np.float32)
        x64 = rng.standard_normal((5,))
        np.save(self.path("x32.npy"), x32)
        with open(self.path("x64v2.npy"), "wb") as f:   # format version 2.0
            np.lib.format.write_array(f, x64, version=(2, 0))
        self.ok("forward", "elu", "--input", self.path("x32.npy"),
                "--output", self.path("y32.npy"))
        y = np.load(self.path("y32.npy"))
        self.assertEqual((y.dtype, y.shape), (np.float32, (2, 3, 4)))
        np.testing.assert_allclose(y, np.where(x32 > 0, x32, np.expm1(x32)), rtol=3e-6,
                                   atol=1e-37)
        self.ok("backward", "sigmoid", "--input", self.path("x64v2.npy"),
                "--output", self.path("dx64.npy"))
        dx = np.load(self.path("dx64.npy"))
        self.assertEqual((dx.dtype, dx.shape), (np.float64, (5,)))
        s = 1 / (1 + np.exp(-x64))
        np.testing.assert_allclose(dx, s * (1 - s), rtol=1e-13)

    def test_csv_and_json_files(self):
        with open(self.path("x.csv"), "w") as f:
            f.write("-1,2,-3\n4,-5,6\n")
        self.ok("forward", "relu", "--input", self.path("x.csv"),
                "--output", self.path("y.csv"))
        y = np.loadtxt(self.path("y.csv"), delimiter=",", comments="#", ndmin=2)
        np.testing.assert_array_equal(y, [[0, 2, 0], [4, 0, 6]])
        with open(self.path("x.json"), "w") as f:
            json.dump([[-1, 2], [3, -4]], f)
        self.ok("forward", "relu", "--input", self.path("x.json"),
                "--output", self.path("y.json"))
        with open(self.path("y.json")) as f:
            self.assertEqual(json.load(f), [[0, 2], [3, 0]])
        self.ok("forward", "sigmoid", "--values", "0", "--output", self.path("s.json"))
        with open(self.path("s.json")) as f:
            self.assertEqual(json.load(f), [0.5])

    def test_weight_and_grad_output_files(self):
        x = np.array([-2.0, -1.0, 3.0])
        dy = np.array([1.0, 2.0, 3.0])
        np.save(self.path("bx.npy"), x)
        np.save(self.path("bdy.npy"), dy)
        response = self.json_of("backward", "elu", "--input", self.path("bx.npy"),
                                "--grad-output", self.path("bdy.npy"),
                                "--param", "alpha=0.5")
        expected = np.where(x > 0, dy, dy * 0.5 * np.exp(x))
        np.testing.assert_allclose(response_tensor(response, "gradInput"), expected,
                                   rtol=1e-13)
        np.save(self.path("alpha.npy"), np.array([0.1, 0.5], dtype=np.float32))
        with open(self.path("alpha.json"), "w") as f:
            json.dump([0.1, 0.5], f)
        with open(self.path("alpha.csv"), "w") as f:
            f.write("0.1,0.5\n")
        for weight in ("alpha.npy", "alpha.json", "alpha.csv"):
            y = response_tensor(self.json_of(
                "forward", "prelu", "--values", "-1,-1,-2,-2", "--shape", "2,2",
                "--weight", "alpha=" + self.path(weight)), "output")
            np.testing.assert_allclose(y, [[-0.1, -0.5], [-0.2, -1.0]], rtol=1e-6,
                                       err_msg=weight)

    def test_backward_output_npz_holds_parameter_gradients(self):
        x = np.array([-2.0, -1.0, 3.0])
        np.save(self.path("ex.npy"), x)
        out = self.ok("backward", "elu", "--input", self.path("ex.npy"),
                      "--param", "alpha=0.5", "--output", self.path("g.npz"))
        self.assertIn("grad_params", out)
        with np.load(self.path("g.npz")) as z:
            self.assertEqual(sorted(z.files), ["alpha", "grad_input"])
            np.testing.assert_allclose(z["grad_input"], np.where(x > 0, 1, 0.5 * np.exp(x)),
                                       rtol=1e-13)
            np.testing.assert_allclose(z["alpha"], np.sum(np.where(x <= 0, np.expm1(x), 0)),
                                       rtol=1e-12)
            self.assertEqual(z["alpha"].shape, ())

    def test_backward_output_side_files(self):
        self.ok("backward", "prelu", "--values", "-1,-2,3", "--param", "channel_axis=0",
                "--output", self.path("dx.npy"))
        np.testing.assert_allclose(np.load(self.path("dx.npy")), [0.25, 0.25, 1])
        np.testing.assert_allclose(np.load(self.path("dx.alpha.npy")), -3)
        self.ok("forward", "dice", "--values", "1,2,3,4", "--shape", "4,1",
                "--output", self.path("dice.csv"))
        mean = np.loadtxt(self.path("dice.batch_mean.csv"), delimiter=",", comments="#")
        np.testing.assert_allclose(mean, 2.5)

    def test_uint16_npy_needs_bfloat16(self):
        np.save(self.path("u16.npy"), np.array([1, 2], dtype=np.uint16))
        err = self.fails(2, "forward", "relu", "--input", self.path("u16.npy"))
        self.assertIn("--dtype bfloat16", err)
        np.save(self.path("i16.npy"), np.array([1, 2], dtype=np.int16))
        err = self.fails(2, "forward", "relu", "--input", self.path("i16.npy"),
                         "--dtype", "bfloat16")
        self.assertIn("uint16 bfloat16 bit patterns", err)


if __name__ == "__main__":
    main()
