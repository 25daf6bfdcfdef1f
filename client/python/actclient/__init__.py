"""actclient: call the actd activation service from Python with NumPy arrays or torch tensors.

    import actclient, numpy as np
    with actclient.Client("127.0.0.1:50051", timeout=5) as c:
        y = c.forward("elu", np.linspace(-2, 2, 5), params={"alpha": 0.5})
"""
from .client import ActdError, Backward, Client, Forward, default_service_config, pb
from .tensor import bfloat16_bits_to_float32, to_bfloat16_bits

__version__ = "0.2.0"
__all__ = ["ActdError", "Backward", "Client", "Forward", "bfloat16_bits_to_float32",
           "default_service_config", "pb", "to_bfloat16_bits"]
