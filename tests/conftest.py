import numpy as np
import pytest

import ember

try:
    import torch
except ImportError:  # torch is a test extra; parity tests skip without it
    torch = None


@pytest.fixture(autouse=True)
def _seed():
    ember.manual_seed(0) if hasattr(ember, "manual_seed") else None
    np.random.seed(0)
    yield


requires_torch = pytest.mark.skipif(torch is None, reason="torch (test extra) not installed")
