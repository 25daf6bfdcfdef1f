# actclient: call the actd activation service from Python with NumPy arrays.
from .client import ActdError, Backward, Client, Forward, pb

__all__ = ["ActdError", "Backward", "Client", "Forward", "pb"]
