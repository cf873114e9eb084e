"""Runbooks are Markdown files under docs/runbooks/, served as they are (plain text) until
the monitoring issue renders them."""

from django.conf import settings
from django.http import Http404, HttpResponse

from fleetmon.accounts.permissions import role_required


@role_required()
def runbook(request, slug: str):
    path = settings.BASE_DIR / "docs" / "runbooks" / f"{slug}.md"
    if not slug.replace("-", "").isalnum() or not path.is_file():
        raise Http404(f"no runbook {slug!r}")
    return HttpResponse(path.read_text(), content_type="text/markdown; charset=utf-8")
