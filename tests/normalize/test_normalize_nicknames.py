from __future__ import annotations

import pytest

from idgraph.normalize.fields import name_key
from idgraph.normalize.nicknames import NICKNAMES, canonical_first_name


@pytest.mark.parametrize(
    ("nickname", "canonical"),
    [
        ("bob", "robert"),
        ("rob", "robert"),
        ("robbie", "robert"),
        ("bill", "william"),
        ("will", "william"),
        ("billy", "william"),
        ("liz", "elizabeth"),
        ("beth", "elizabeth"),
        ("betty", "elizabeth"),
        ("eliza", "elizabeth"),
        ("kate", "katherine"),
        ("katie", "katherine"),
        ("kathy", "catherine"),
        ("cathy", "catherine"),
        ("jim", "james"),
        ("jimmy", "james"),
        ("mike", "michael"),
        ("tony", "anthony"),
        ("beppe", "giuseppe"),
        ("peppe", "giuseppe"),
        ("gigi", "luigi"),
        ("franco", "francesco"),
        ("sandro", "alessandro"),
        ("pepe", "jose"),
        ("paco", "francisco"),
        ("nacho", "ignacio"),
        ("sepp", "josef"),
        ("fritz", "friedrich"),
        ("pierrot", "pierre"),
        ("chema", "jose maria"),
    ],
)
def test_nicknames(nickname, canonical):
    assert canonical_first_name(nickname) == canonical


@pytest.mark.parametrize("name", ["robert", "maria", "giuseppe", "ada", "", "alex", "sam", "x y"])
def test_unknown_or_canonical_names_unchanged(name):
    assert canonical_first_name(name) == name


@pytest.mark.parametrize(
    ("key", "expected"),
    [("bob lee", "robert lee"), ("mike jr", "michael jr"), ("anna bob", "anna bob")],
)
def test_first_word_is_mapped(key, expected):
    assert canonical_first_name(key) == expected


def test_table_covers_several_languages():
    assert len(NICKNAMES) >= 60


@pytest.mark.parametrize(("nickname", "canonical"), sorted(NICKNAMES.items()))
def test_table_entries_are_name_keys_and_settle_in_one_step(nickname, canonical):
    assert name_key(nickname) == nickname
    assert name_key(canonical) == canonical
    assert canonical.split()[0] not in NICKNAMES
    assert canonical_first_name(canonical_first_name(nickname)) == canonical


def test_table_is_read_only():
    with pytest.raises(TypeError):
        NICKNAMES["bob"] = "bobert"  # type: ignore[index]
