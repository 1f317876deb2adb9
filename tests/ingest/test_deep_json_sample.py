"""A source's sample payload nested too deeply is a form error in words, not a RecursionError (a 500)."""

from __future__ import annotations

from ingest.forms import SourceForm


def test_a_deep_sample_is_a_form_error_in_words():
    form = SourceForm({"name": "Cloud", "rate_limit": "60/60", "sample": "[" * 49_000 + "]" * 49_000})
    assert not form.is_valid()
    assert form.errors["sample"] == [
        "The sample is not JSON: the JSON is nested too deeply (arrays or objects inside each other)."
    ]
