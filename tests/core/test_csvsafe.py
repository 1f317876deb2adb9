"""core.csvsafe: the one CSV-injection guard. No guarded text cell starts like a formula, unguard gives back
exactly the cell that was guarded (whatever apostrophes it had), and numbers stay numbers."""

from __future__ import annotations

import csv
import io

from hypothesis import given
from hypothesis import strategies as st

from core import csvsafe

# Cells that start like formulas, apostrophes and the rest, so the edge cases come up often.
CELLS = (
    st.text(alphabet=st.sampled_from(["=", "+", "-", "@", "\t", "\r", "'", "a", "1", " ", ","]), max_size=6) | st.text()
)


@given(CELLS)
def test_a_guarded_cell_never_starts_like_a_formula_and_unguards_to_itself(cell):
    written = csvsafe.guard(cell)
    assert written[:1] not in csvsafe.FORMULA_START
    assert csvsafe.unguard(written) == cell


@given(st.lists(CELLS, min_size=1, max_size=5))
def test_a_guarded_csv_reads_back_unchanged_through_unguard(cells):
    out = io.StringIO()
    csvsafe.writer(out).writerow(cells)
    (row,) = csv.reader(io.StringIO(out.getvalue()))
    assert all(cell[:1] not in csvsafe.FORMULA_START for cell in row)
    assert [csvsafe.unguard(cell) for cell in row] == cells


def test_numbers_stay_numbers_and_text_that_looks_like_one_is_guarded():
    line = csvsafe.line_writer(lineterminator="\n").writerow([-3.5, 7, "-3.5", "=1+1", "plain", None])
    assert line == "-3.5,7,'-3.5,'=1+1,plain,\n"
