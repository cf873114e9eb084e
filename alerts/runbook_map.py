"""Which runbook answers an alert, and the runbook as safe HTML for the alert page.

Runbooks are Markdown files under docs/runbooks/ (served raw at /runbooks/<slug>/). Streaming
alerts map by rule id, fallback alerts to the rules-fallback runbook, and batch alerts (any
model kind) to the equipment-anomaly runbook, whose steps start from the top contributors.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field

from django.conf import settings

# scoring.streaming.rules.RULES ids -> runbook slugs.
RULE_RUNBOOKS = {
    "compressor_overload": "compressor-overload",
    "vibration_spike": "vibration-spike",
    "pressure_loss_acute": "pressure-drop",
    "cooling_loss_total": "cooling-loss",
    "defrost_too_long": "defrost-too-long",
    "defrost_overdue": "defrost-overdue",
    "door_open_too_long": "door-open-too-long",
    "sensor_spike": "sensor-spike",
    "site_offline": "site-offline",
}
# scoring.detectors.registry.DETECTORS kinds -> runbook slugs.
MODEL_KIND_RUNBOOKS = {
    "isolation_forest": "equipment-anomaly",
    "statistical_baseline": "equipment-anomaly",
    "cohort_isolation_forest": "equipment-anomaly",
    "daily_baseline": "equipment-anomaly",
    "rules_fallback": "rules-fallback",
}
DEFAULT_RUNBOOK = "equipment-anomaly"


@dataclass(frozen=True)
class Runbook:
    slug: str
    url: str
    title: str


def runbook_slug(*, source: str, model_kind_or_rule: str) -> str:
    """The runbook slug for an alert's source and its model kind or streaming rule id."""
    if source == "streaming":
        return RULE_RUNBOOKS.get(model_kind_or_rule, DEFAULT_RUNBOOK)
    if source == "fallback":
        return "rules-fallback"
    return MODEL_KIND_RUNBOOKS.get(model_kind_or_rule, DEFAULT_RUNBOOK)


def alert_kind(alert) -> str:
    """The streaming rule id (its model_id) or the batch model kind (from the dedup key
    `device|kind|contributor`, which score-to-alert builds from the model kind)."""
    if alert.source == "streaming":
        return alert.model_id
    parts = alert.dedup_key.split("|")
    return parts[1] if len(parts) >= 2 else ""


def runbook_for(alert) -> Runbook:
    slug = runbook_slug(source=alert.source, model_kind_or_rule=alert_kind(alert))
    return Runbook(slug=slug, url=f"/runbooks/{slug}/", title=runbook_title(slug))


def runbook_path(slug: str):
    return settings.BASE_DIR / "docs" / "runbooks" / f"{slug}.md"


def runbook_text(slug: str) -> str:
    path = runbook_path(slug)
    return path.read_text() if path.is_file() else ""


def runbook_title(slug: str) -> str:
    for line in runbook_text(slug).splitlines():
        if line.startswith("# "):
            return line[2:].removeprefix("Runbook:").strip()
    return slug.replace("-", " ").capitalize()


# ---------------------------------------------------------------- a tiny, safe Markdown

_CODE = re.compile(r"`([^`]+)`")
_BOLD = re.compile(r"\*\*(.+?)\*\*")
_ITEM = re.compile(r"^(\s*)([-*]|\d+\.)\s+(.*)$")


def _inline(text: str) -> str:
    """Escape everything, then allow `code` and **bold** only."""
    out = html.escape(text, quote=True)
    out = _CODE.sub(r"<code>\1</code>", out)
    return _BOLD.sub(r"<strong>\1</strong>", out)


@dataclass
class _Item:
    text: str
    sub: list[str] = field(default_factory=list)
    sub_tag: str = "ul"

    def html(self) -> str:
        nested = "".join(f"<li>{_inline(s)}</li>" for s in self.sub)
        inner = f"<{self.sub_tag}>{nested}</{self.sub_tag}>" if self.sub else ""
        return f"<li>{_inline(self.text)}{inner}</li>"


def render_markdown(text: str) -> str:
    """Headings, paragraphs, lists (one level of nesting; an item may continue on indented
    lines) and fenced code. Nothing from the source reaches the page unescaped, so a runbook
    cannot inject markup."""
    out: list[str] = []
    paragraph: list[str] = []
    items: list[_Item] = []
    list_tag = ""
    code: list[str] | None = None

    def flush() -> None:
        nonlocal list_tag
        if paragraph:
            out.append(f"<p>{_inline(' '.join(paragraph))}</p>")
            paragraph.clear()
        if items:
            out.append(f"<{list_tag}>{''.join(i.html() for i in items)}</{list_tag}>")
            items.clear()
            list_tag = ""

    for line in text.splitlines():
        if code is not None:
            if line.strip().startswith("```"):
                out.append(f"<pre><code>{html.escape(chr(10).join(code))}</code></pre>")
                code = None
            else:
                code.append(line)
            continue
        stripped = line.strip()
        if stripped.startswith("```"):
            flush()
            code = []
        elif not stripped:
            flush()
        elif heading := re.match(r"^(#{1,4})\s+(.*)$", stripped):
            flush()
            # The page already has h1/h2: runbook headings start at h3.
            level = min(len(heading.group(1)) + 2, 6)
            out.append(f"<h{level}>{_inline(heading.group(2))}</h{level}>")
        elif item := _ITEM.match(line):
            tag = "ol" if item.group(2)[0].isdigit() else "ul"
            if items and len(item.group(1)) >= 2:  # indented under the current item
                items[-1].sub.append(item.group(3))
                items[-1].sub_tag = tag
                continue
            if paragraph or (items and tag != list_tag):
                flush()
            list_tag = tag
            items.append(_Item(item.group(3)))
        elif items and line.startswith((" ", "\t")):
            last = items[-1]
            if last.sub:
                last.sub[-1] += " " + stripped
            else:
                last.text += " " + stripped
        else:
            if items:
                flush()
            paragraph.append(stripped)
    if code is not None:
        out.append(f"<pre><code>{html.escape(chr(10).join(code))}</code></pre>")
    flush()
    return "\n".join(out)


def runbook_html(slug: str) -> str:
    """The runbook without its title line (the page shows the title as its heading)."""
    lines = runbook_text(slug).splitlines()
    if lines and lines[0].startswith("# "):
        lines = lines[1:]
    return render_markdown("\n".join(lines))
