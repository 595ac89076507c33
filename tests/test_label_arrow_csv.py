"""pyarrow's CSV reader reads clean vote files exactly as the checking parser does, and leaves every file
with a problem to it (skipped where pyarrow is not installed)."""
import numpy as np
import pytest

from fixtures import write_csv_text
from ilsvrc.errors import DataError
from ilsvrc.label import votes as votes_module
from ilsvrc.label.arrow_csv import read_with_arrow

pytest.importorskip("pyarrow")

CLEAN = {
    "plain": "task,worker,label\nt1,w1,yes\nt2,w2,no\nt1,w2,unsure\n",
    "seconds and blank lines": "task,worker,label,seconds\nt1,w1,cat,1.5\n\nt2,w1,dog,0\nt2,w3,cat,12\n",
    "quoted, unicode, a byte-order mark": '\ufefftask,worker,label\n"train/3:T-shirt/top",Zoë,"a, b"\nt9,w1,"say ""hi"""\n',
    "columns in another order, CRLF": "label,task,worker\r\nyes,t1,w1\r\nno,t1,w2\r\n",
}


@pytest.mark.parametrize("text", CLEAN.values(), ids=CLEAN.keys())
def test_clean_files_read_the_same_by_both_parsers(tmp_path, text):
    path = write_csv_text(tmp_path / "votes.csv", text)
    path.write_bytes(text.encode("utf-8"))
    with open(path, newline="", encoding="utf-8-sig") as f:
        header = [name.strip() for name in f.readline().strip("\r\n").split(",")]
        checked = votes_module._parse_lines(path, f, header, ("seconds",))
    rows, codes, names, numbers = read_with_arrow(path, header, ("seconds",))
    assert rows == checked.rows and names == checked.names
    for name in codes:
        np.testing.assert_array_equal(codes[name], checked.codes[name])
    for name in numbers:
        np.testing.assert_array_equal(numbers[name], checked.numbers[name])


@pytest.mark.parametrize("text", [
    "task,worker,label\nt1,w1\n",  # too few fields
    "task,worker,label\nt1,,yes\n",  # an empty field
    "task,worker,label,seconds\nt1,w1,yes,soon\n",  # not a number
    "task,worker,label,seconds\nt1,w1,yes,-1\n",  # negative
    "task,worker,label,seconds\nt1,w1,yes,inf\n",  # not finite
])
def test_files_with_a_problem_are_left_to_the_checking_parser(tmp_path, text):
    path = write_csv_text(tmp_path / "votes.csv", text)
    assert read_with_arrow(path, text.split("\n")[0].split(","), ("seconds",)) is None
    with pytest.raises(DataError, match="line 2: "):
        votes_module.read_votes(path)


def test_not_utf8_is_left_to_the_checking_parser(tmp_path):
    path = tmp_path / "votes.csv"
    path.write_bytes(b"task,worker,label\nt1,w\xff,yes\n")
    assert read_with_arrow(path, ["task", "worker", "label"], ()) is None
    with pytest.raises(DataError, match="not UTF-8 text"):
        votes_module.read_votes(path)


def test_positions_match_a_dict_lookup():
    from ilsvrc.label import arrow_csv
    names, values = ["b", "a", "Zoë", "c"], ["a", "x", "Zoë", "b", "a"]
    np.testing.assert_array_equal(arrow_csv.positions(values, names), [1, -1, 2, 0, 1])
    np.testing.assert_array_equal(arrow_csv.positions([], names), np.zeros(0, np.int64))
