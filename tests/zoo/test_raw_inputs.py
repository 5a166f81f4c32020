"""Raw inputs a stored preprocessing cannot take are one line saying what is wrong."""

from __future__ import annotations

import numpy as np
import pytest

from zoo.errors import DataError
from zoo.preprocessing import to_model_input

SERIES = {"kind": "series", "column": "v", "window": 3, "mean": 0.0, "std": 2.0}


def test_a_gap_in_the_last_values_of_a_series_is_named():
    values = [370.0, 370.5, 371.0, 371.2, np.nan]
    with pytest.raises(DataError, match=r"value 4 of 5 \(0-based\) is nan; fill the gap"):
        to_model_input(SERIES, values)
    # A gap before the window does not matter: only the last window + 1 values are read.
    x = to_model_input(SERIES, [np.nan, 370.0, 370.5, 371.0, 371.2])
    assert x.shape == (1, 3, 1) and np.isfinite(x).all()
    with pytest.raises(DataError, match=r"needs its last 4 values .* got 2"):
        to_model_input(SERIES, [370.0, 370.5])
