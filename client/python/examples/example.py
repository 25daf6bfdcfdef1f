#!/usr/bin/python3
# Calls a running actd from Python: forward, backward with parameter gradients, a
# batch, and an error. Usage: example.py [host:port]   (default 127.0.0.1:50051)
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import actclient  # noqa: E402


def main():
    target = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1:50051"
    with actclient.Client(target, timeout=5) as client:
        info = client.server_info()
        print("actd", info.version, "isa", info.isa)
        print("activations:", ", ".join(a.name for a in client.list_activations()))

        x = np.linspace(-3, 3, 7, dtype=np.float32)
        print("x            ", x)
        print("gelu(x)      ", client.forward("gelu", x, approximate="tanh"))
        dx, grads = client.backward("swish", x, dy=np.ones_like(x), beta=1.5)
        print("swish'(x)    ", dx, " dL/dbeta =", float(grads["beta"]))

        images = np.random.default_rng(0).standard_normal((2, 3, 4, 4))
        y = client.forward("prelu", images, weights={"alpha": [0.1, 0.2, 0.3]})
        print("prelu NCHW   ", y.shape, y.dtype)

        mish, maxout = client.batch([actclient.Forward("mish", x),
                              actclient.Forward("maxout", x[:6], pieces=3)])
        print("batch        ", mish, maxout)
        try:
            client.forward("softmax", x)
        except actclient.ActdError as e:
            print("error        ", e.code, e.details)


if __name__ == "__main__":
    main()
