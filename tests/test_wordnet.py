"""WordNet 3.0 lookups by wnid on the real /usr/share/wordnet, and every kind of bad wnid."""
import json
from pathlib import Path

import pytest

from ilsvrc.cli import main
from ilsvrc.data.wordnet import ENTITY, WordNet, offset_to_wnid, parse_synset, wnid_to_offset
from ilsvrc.errors import DataError

DATA_NOUN = "/usr/share/wordnet/data.noun"
needs_wordnet = pytest.mark.skipif(not Path(DATA_NOUN).is_file(), reason="needs Debian's wordnet-base")


@pytest.fixture(scope="module")
def wn():
    if not Path(DATA_NOUN).is_file():
        pytest.skip("needs Debian's wordnet-base")
    return WordNet()


def test_dog(wn):
    dog = wn.synset("n02084071")
    assert dog.lemmas == ("dog", "domestic dog", "Canis familiaris")
    assert wn.name("n02084071") == "dog, domestic dog, Canis familiaris"
    assert dog.gloss.startswith("a member of the genus Canis (probably descended from the common wolf)")
    assert dog.hypernyms == ("n02083346", "n01317541")  # canine, domestic animal
    path = wn.hypernym_path("n02084071")
    assert path[0] == ENTITY == "n00001740" and path[-2:] == ["n02083346", "n02084071"]
    assert [wn.synset(w).lemmas[0] for w in path[:4]] == ["entity", "physical entity", "object", "whole"]


def test_tench_is_imagenet_class_zero(wn):
    assert wn.name("n01440764") == "tench, Tinca tinca"
    assert "n02512053" in wn.hypernym_path("n01440764")  # fish


def test_instance_hypernyms_are_followed(wn):
    hegira = wn.synset("n00060548")
    assert hegira.lemmas == ("Hegira", "Hejira") and hegira.hypernyms == ("n00058743",)  # an '@i' pointer
    assert wn.hypernym_path("n00060548")[0] == ENTITY


def test_entity_is_the_root(wn):
    assert wn.synset(ENTITY).hypernyms == () and wn.hypernym_path(ENTITY) == [ENTITY]


def test_synsets_are_cached(wn):
    assert wn.synset("n02084071") is wn.synset("n02084071")


def test_offset_wnid_round_trip(wn):
    for wnid in ("n02084071", "n01440764", ENTITY):
        assert offset_to_wnid(wnid_to_offset(wnid)) == wnid
    assert wnid_to_offset("n02084071") == 2084071 and offset_to_wnid(1740) == "n00001740"
    with open(DATA_NOUN, "rb") as f:  # the offset is the byte position of the line
        f.seek(wnid_to_offset("n02084071"))
        assert f.readline().startswith(b"02084071 05 n 03 dog 0 ")


@pytest.mark.parametrize("wnid, problem", [
    ("n0208407", "not a wnid (expected 'n' and 8 digits, e.g. n02084071)"),
    ("02084071", "not a wnid (expected 'n' and 8 digits, e.g. n02084071)"),
    ("v01166351", "not a noun synset (ImageNet wnids start with 'n')"),
    ("n02084072", f"no synset starts at offset 02084072 of {DATA_NOUN}"),
    ("n00000010", f"no synset starts at offset 00000010 of {DATA_NOUN}"),  # inside the licence header
    ("n00000000", f"no synset starts at offset 00000000 of {DATA_NOUN}"),
    ("n99999999", f"offset 99999999 is past the end of {DATA_NOUN}"),
])
def test_bad_wnids(wn, wnid, problem):
    with pytest.raises(DataError) as e:
        wn.synset(wnid)
    assert str(e.value) == f"{wnid}: {problem}"


def test_bad_offset():
    with pytest.raises(DataError) as e:
        offset_to_wnid(10**8)
    assert str(e.value) == "100000000: not a WordNet offset (0 to 99999999)"


def test_malformed_line():
    with pytest.raises(DataError) as e:
        parse_synset("02084071 05 n 03 dog 0 | truncated", "data.noun:n02084071")
    assert str(e.value) == "data.noun:n02084071: malformed synset line"


def test_missing_wordnet(tmp_path):
    with pytest.raises(DataError) as e:
        WordNet(tmp_path)
    assert str(e.value) == (f"{tmp_path / 'data.noun'}: WordNet 3.0 not found: install the Debian package "
                            "`wordnet-base`, or give the folder holding data.noun")


def test_hypernym_cycle_in_a_damaged_file(tmp_path):
    a = "00000000 03 n 01 a 0 001 @ 00000051 n 0000 | first\n"
    b = "00000051 03 n 01 b 0 001 @ 00000000 n 0000 | second\n"
    assert len(a) == 51  # b starts right after a
    (tmp_path / "data.noun").write_text(a + b)
    wn = WordNet(tmp_path)
    assert wn.name("n00000051") == "b"
    with pytest.raises(DataError) as e:
        wn.hypernym_path("n00000000")
    assert str(e.value) == f"{tmp_path / 'data.noun'}: hypernym cycle through n00000000"


@needs_wordnet
def test_wordnet_command_table_and_json(capsys):
    assert main(["data", "wordnet", "n02084071", "n01440764"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "n02084071  dog, domestic dog, Canis familiaris"
    assert lines[2].startswith("  path:  entity > physical entity > object") and lines[2].endswith("> canine > dog")
    assert lines[3] == "n01440764  tench, Tinca tinca"
    assert main(["data", "wordnet", "n02084071", "--json"]) == 0
    [dog] = json.loads(capsys.readouterr().out)
    assert dog["lemmas"] == ["dog", "domestic dog", "Canis familiaris"] and dog["hypernyms"][0] == "n02083346"
    assert dog["path"][0] == {"wnid": "n00001740", "name": "entity"} and dog["path"][-1]["wnid"] == "n02084071"
    assert main(["data", "wordnet", "n02084072"]) == 1
    assert capsys.readouterr().err == f"ilsvrc: error: n02084072: no synset starts at offset 02084072 of {DATA_NOUN}\n"
