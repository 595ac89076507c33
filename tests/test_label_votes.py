"""votes.csv: parsing into integer codes, round trips, and one clear error per kind of bad input."""
import numpy as np
import pytest

from fixtures import votes_from_rows, write_csv_text
from ilsvrc.errors import DataError
from ilsvrc.label import votes as votes_module
from ilsvrc.label.votes import read_gold, read_votes, write_votes

YESNO_CSV = """task,worker,label,seconds
train/0:cat,w1,yes,3.5
train/0:cat,w2,no,1.0
train/1:cat,w1,no,2.25
train/1:dog,w3,yes,4
"""


def test_yesno_votes_are_coded_by_first_appearance(tmp_path):
    votes = read_votes(write_csv_text(tmp_path / "v.csv", YESNO_CSV))
    assert votes.yesno and votes.classes == ["no", "yes"]
    assert votes.task_names == ["train/0:cat", "train/1:cat", "train/1:dog"]
    assert votes.worker_names == ["w1", "w2", "w3"]
    np.testing.assert_array_equal(votes.task, [0, 0, 1, 2])
    np.testing.assert_array_equal(votes.worker, [0, 1, 0, 2])
    np.testing.assert_array_equal(votes.label, [1, 0, 0, 1])
    np.testing.assert_allclose(votes.seconds, [3.5, 1.0, 2.25, 4.0])
    np.testing.assert_array_equal(votes.votes_per_task(), [2, 1, 1])


def test_multiclass_classes_are_sorted_unless_given(tmp_path):
    path = write_csv_text(tmp_path / "v.csv", "worker,task,label\na,t1,dog\nb,t1,cat\na,t2,cat\n")
    votes = read_votes(path)
    assert not votes.yesno and votes.classes == ["cat", "dog"]
    np.testing.assert_array_equal(votes.label, [1, 0, 0])
    given = read_votes(path, classes=["dog", "cat", "emu"])
    assert given.classes == ["dog", "cat", "emu"]
    np.testing.assert_array_equal(given.label, [0, 1, 1])
    assert given.seconds is None


def test_write_then_read_round_trips(tmp_path):
    original = read_votes(write_csv_text(tmp_path / "v.csv", YESNO_CSV))
    write_votes(tmp_path / "copy.csv", original)
    again = read_votes(tmp_path / "copy.csv")
    for field in ("task", "worker", "label", "seconds"):
        np.testing.assert_array_equal(getattr(again, field), getattr(original, field))
    assert again.task_names == original.task_names and again.worker_names == original.worker_names


def test_quoted_fields_and_chunks_parse_like_one_pass(tmp_path, monkeypatch):
    task = ['"train/{}:T-shirt, top"', "train/{}:Trouser"]  # some chunks quoted, some plain
    rows = "".join(f'{task[i // 4].format(i)},w{i % 3},{"yes" if i % 2 else "no"}\n' for i in range(8))
    path = write_csv_text(tmp_path / "v.csv", "task,worker,label\n" + rows)
    whole = read_votes(path)
    monkeypatch.setattr(votes_module, "CHUNK", 2)
    chunked = read_votes(path)
    assert chunked.task_names == whole.task_names
    assert whole.task_names[0] == "train/0:T-shirt, top" and whole.task_names[7] == "train/7:Trouser"
    np.testing.assert_array_equal(chunked.worker, whole.worker)
    np.testing.assert_array_equal(chunked.label, whole.label)


def test_windows_line_endings_and_a_byte_order_mark_read_the_same(tmp_path):
    plain = read_votes(write_csv_text(tmp_path / "plain.csv", YESNO_CSV))
    (tmp_path / "excel.csv").write_bytes(b"\xef\xbb\xbf" + YESNO_CSV.replace("\n", "\r\n").encode())
    excel = read_votes(tmp_path / "excel.csv")
    assert excel.task_names == plain.task_names and excel.worker_names == plain.worker_names
    np.testing.assert_array_equal(excel.label, plain.label)
    np.testing.assert_array_equal(excel.seconds, plain.seconds)


@pytest.mark.parametrize("text, problem", [
    ("", "empty file: expected a header task,worker,label[,seconds]"),
    ("task,worker,label\n", "no votes: the file has a header but no rows"),
    ("task,worker,label,price\nt,w,yes,1\n", "unknown column 'price' (expected task,worker,label[,seconds])"),
    ("task,label\nt,yes\n", "missing column 'worker' (expected task,worker,label[,seconds])"),
    ("task,worker,label\nt1,w1,yes\n\nt2,w1\n", "line 4: expected 3 fields, got 2"),
    ("task,worker,label\nt1,w1,yes\nt2,,no\n", "line 3: empty worker"),
    ("task,worker,label\nt1,w1,yes\nt2,w1,maybe\n",
     "line 3: label 'maybe' is outside the class set (a yes/no job: answers are yes, no or unsure)"),
    ("task,worker,label\nt1,w1,yes\nt2,w2,no\nt1,w1,no\n",
     "line 4: worker 'w1' already answered task 't1' on line 2"),
    ("task,worker,label\nt1,w1,yes\nt2,w2,no\nt2,w2,no\nt1,w1,no\n",
     "line 4: worker 'w2' already answered task 't2' on line 3"),
    ("task,worker,label,seconds\nt1,w1,yes,2\nt2,w1,no,soon\n", "line 3: seconds must be a number >= 0, got 'soon'"),
    ("task,worker,label,seconds\nt1,w1,yes,-1\n", "line 2: seconds must be a number >= 0, got '-1'"),
])
def test_bad_votes_name_the_file_line_and_problem(tmp_path, text, problem):
    path = write_csv_text(tmp_path / "v.csv", text)
    with pytest.raises(DataError) as error:
        read_votes(path)
    assert str(error.value) == f"{path}: {problem}"


def test_labels_outside_the_given_classes_are_rejected(tmp_path):
    path = write_csv_text(tmp_path / "v.csv", "task,worker,label\nt1,w1,cat\nt1,w2,emu\n")
    with pytest.raises(DataError, match=r"line 3: label 'emu' is outside the class set \(classes: cat, dog\)"):
        read_votes(path, classes=["cat", "dog"])


def test_missing_and_binary_files_are_data_errors(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        read_votes(tmp_path / "absent.csv")
    (tmp_path / "bin.csv").write_bytes(b"task,worker,label\n\xff\xfe,w,yes\n")
    with pytest.raises(DataError, match="not UTF-8 text"):
        read_votes(tmp_path / "bin.csv")


def test_gold_aligns_with_tasks_and_skips_unvoted_ones(tmp_path):
    votes = votes_from_rows([("a", "w1", "yes"), ("b", "w1", "no"), ("c", "w2", "no")], ["no", "yes"])
    gold = read_gold(write_csv_text(tmp_path / "g.csv", "task,label\nc,yes\nz,no\na,no\n"), votes)
    np.testing.assert_array_equal(gold, [0, -1, 1])
    with pytest.raises(DataError, match="line 2: label 'cat' is outside the class set"):
        read_gold(write_csv_text(tmp_path / "bad.csv", "task,label\na,cat\n"), votes)


def test_a_gold_file_cannot_say_unsure(tmp_path):
    votes = read_votes(write_csv_text(tmp_path / "votes.csv", "task,worker,label\nt1,w1,unsure\nt1,w2,yes\n"))
    assert votes.yesno and votes.unsure().tolist() == [True, False]
    with pytest.raises(DataError, match=r"gold.csv: line 2: label 'unsure' is outside the class set "
                                        r"\(a yes/no job: gold labels are yes or no\)"):
        read_gold(write_csv_text(tmp_path / "gold.csv", "task,label\nt1,unsure\n"), votes)
