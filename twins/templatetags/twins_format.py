from django import template

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
