"""What one request may hold: checked before any tensor is built (serving/tensors.py).

A light module (no TensorFlow import), so `recsys serve --help` shows the defaults fast.
"""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class RequestLimits:
    """What one Predict request may hold (refused with INVALID_ARGUMENT beyond).

    Attributes:
      max_rows: Rows (the batch dimension) per request. The composite recommender scores
        `rows x candidates` pairs, so this bounds its memory per request.
      max_tensor_elements: Elements of one input tensor.
      max_request_elements: Elements of all inputs together.
      max_string_bytes: Bytes of one string element (ids, titles, zip codes are short).
    """

    max_rows: int = 512
    max_tensor_elements: int = 1 << 20
    max_request_elements: int = 4 << 20
    max_string_bytes: int = 1024
