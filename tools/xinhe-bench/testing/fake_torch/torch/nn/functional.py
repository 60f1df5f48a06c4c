# Fake torch.nn.functional for xinhe-bench's tests (see ../__init__.py).
from .. import _sdpa as scaled_dot_product_attention  # noqa: F401
