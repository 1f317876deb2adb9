from django import template

from twins.models import HistoryEntry

register = template.Library()


@register.filter
def num(value) -> str:
    """A reading as people write it: 12.5, 120, 0.25 (no trailing zeros, no exponent)."""
    if value is None or value == "":
        return ""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    text = f"{number:.4f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


@register.filter
def history_kind(value) -> str:
    """A history entry's kind in words ("Journal note"), never its code ("note"): what pages show a seller."""
    return dict(HistoryEntry.Kind.choices).get(str(value), str(value))
