"""n_clusters="auto" through the library and the command line (issue 34)."""
from __future__ import annotations

import pytest

from sscn_core.params import Param


def test_a_number_row_may_take_auto() -> None:
    row = Param("width", "int", 3, "Width", "A width.", low=1, high=10, auto="as wide as the data")
    assert row.problem("auto") is None and row.read(" Auto ") == "auto" and row.read("7") == 7
    assert row.problem("x") == "width must be 'auto' or an integer in [1, 10], got 'x'"
    with pytest.raises(ValueError, match=r"^width takes an integer or auto, got 'wide'$"):
        row.read("wide")
    assert "auto: as wide as the data." in row.describe()
    with pytest.raises(ValueError, match="'auto' goes with kind 'int' or 'float' only"):
        Param("name", "text", "x", "Name", "A name.", auto="from the data")
