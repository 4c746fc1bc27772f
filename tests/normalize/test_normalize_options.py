"""`NormalizeOptions`: validated, frozen, loadable from JSON."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from idgraph.normalize.record import NormalizeOptions


@pytest.mark.parametrize(
    "data",
    [
        {"default_region": "XX"},
        {"default_region": "usa"},
        {"date_order": "YMD"},
        {"junk": {"kinds": {"email": {"patterns": ["("]}}}},
        {"region": "US"},
    ],
)
def test_invalid_options(data):
    with pytest.raises(ValidationError):
        NormalizeOptions.model_validate(data)


def test_defaults():
    options = NormalizeOptions()
    assert (options.default_region, options.date_order) == ("US", "DMY")
    assert options.junk.is_junk("email", "test@test.com")
    assert options.erased == frozenset()


def test_options_are_frozen_and_normalize_region():
    opts = NormalizeOptions(default_region=" it ")
    assert opts.default_region == "IT"
    with pytest.raises(ValidationError):
        opts.date_order = "MDY"  # type: ignore[misc]


def test_options_load_from_json():
    opts = NormalizeOptions.model_validate_json(
        '{"default_region": "DE", "date_order": "MDY", "junk": {"use_defaults": false}}'
    )
    assert opts.default_region == "DE"
    assert opts.date_order == "MDY"
    assert not opts.junk.is_junk("email", "test@test.com")
