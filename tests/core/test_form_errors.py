"""Form errors (templates/_form.html) are announced from a ``role="alert"`` container around Django's error list,
never a ``<ul role="alert">`` (axe: aria-allowed-role; its items stop being list items: issue 14, finding 6), and
each field's ``aria-describedby`` names elements that exist (its errors and its help text)."""

from __future__ import annotations

import re

from django import forms
from django.template.loader import render_to_string


class ExampleForm(forms.Form):
    name = forms.CharField(help_text="What you call it.")
    agree = forms.BooleanField()
    token = forms.CharField(widget=forms.HiddenInput, required=False)

    def clean(self):
        raise forms.ValidationError("Something about the whole form.")


def rendered() -> str:
    form = ExampleForm(data={"name": "", "token": "x"})
    assert not form.is_valid()
    return render_to_string("_form.html", {"form": form})


def test_errors_are_in_an_alert_container_and_lists_keep_their_list_role():
    html = rendered()
    assert not re.search(r"<(ul|li)[^>]*role=", html), html
    alerts = re.findall(r'<div[^>]*role="alert"[^>]*>(.*?)</div>', html, re.S)
    assert len(alerts) == 3  # the form's error and one per field in error
    assert "Something about the whole form." in alerts[0]
    assert all('<ul class="errorlist' in alert for alert in alerts)


def test_every_aria_describedby_names_an_element_on_the_page():
    html = rendered()
    ids = set(re.findall(r'\bid="([^"]+)"', html))
    described = re.findall(r'aria-describedby="([^"]+)"', html)
    assert described, html
    for value in described:
        for target in value.split():
            assert target in ids, (target, html)
    assert 'id="id_name_error"' in html and 'aria-invalid="true"' in html
