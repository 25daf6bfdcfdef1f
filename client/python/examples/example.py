#!/usr/bin/python3
# Calls a running actd from Python with the installed actclient package: forward with
# parameters, backward with parameter gradients, float16, a batch, and an error.
# Usage: example.py [host:port]   (default 127.0.0.1:50051)
import sys

import numpy as np

import actclient


def main():
    target = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1:50051"
    with actclient.Client(target, timeout=5) as client:
        info = client.server_info()
        print("actd", info.version, "isa", info.isa)
        print("activations:", ", ".join(a.name for a in client.list_activations()))

        x = np.linspace(-3, 3, 7, dtype=np.float32)
        print("x                ", x)
        print("elu(x, alpha=0.5)", client.forward("elu", x, params={"alpha": 0.5}))
        print("gelu(x) tanh     ", client.forward("gelu", x, params={"approximate": "tanh"},
                                                  timeout=2))
        dx, grads = client.backward("swish", x, np.ones_like(x), params={"beta": 1.5})
        print("swish'(x)        ", dx, " dL/dbeta =", float(grads["beta"]))

        images = np.random.default_rng(0).standard_normal((2, 3, 4, 4))
        y = client.forward("prelu", images, weights={"alpha": [0.1, 0.2, 0.3]})
        print("prelu NCHW       ", y.shape, y.dtype)

        mish, maxout = client.batch([
            actclient.Forward("mish", x),
            actclient.Forward("maxout", x[:6], params={"pieces": 3})])
        print("batch            ", mish, maxout)
        try:
            client.forward("softmax", x)
        except actclient.ActdError as e:
            print("error            ", e.code.name, e.details)


if __name__ == "__main__":
    main()
