"""Number formats of the ML and data-health pages: shares as percentages, dashes for gaps."""

from django import template

register = template.Library()

DASH = "–"


@register.filter
def pct(value, digits: int = 1) -> str:
    """0.0523 -> "5.2 %"; None -> a dash."""
    if value is None or value == "":
        return DASH
    return f"{float(value) * 100:.{int(digits)}f} %"


@register.filter
def num(value, digits: int = 3) -> str:
    """A float with `digits` decimals; None -> a dash."""
    if value is None or value == "":
        return DASH
    return f"{float(value):.{int(digits)}f}"


@register.filter
def trend(values, digits: int = 2) -> str:
    """A short series, oldest first: "0.02 › 0.05 › 0.31" (gaps as dashes)."""
    return " › ".join(num(v, digits) for v in values or [])


@register.filter
def get(mapping, key):
    """mapping[key], or None."""
    return (mapping or {}).get(key)
