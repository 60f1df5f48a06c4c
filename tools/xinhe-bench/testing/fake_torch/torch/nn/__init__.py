# Fake torch.nn for xinhe-bench's tests (see ../__init__.py).
from . import functional  # noqa: F401
