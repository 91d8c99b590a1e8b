"""Generated documents: PDFs rendered by WeasyPrint from `templates/documents/`, stored once
per event with their SHA-256, and the policy certificate.

Each document is made once per event: its `key` names the event (the claim's
submission, payment or rejection, the policy's activation, the run), so a
task that runs twice finds the stored Document instead of making another. The
renderer reads only the project's own static files; every other URL is
refused before anything is opened.
"""

import functools
import hashlib
import mimetypes
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.contrib.staticfiles import finders
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.utils import timezone, translation
from weasyprint import CSS, HTML
from weasyprint.text.fonts import FontConfiguration
from weasyprint.urls import URLFetcher, URLFetcherResponse

from policies.choices import DocumentKind
from policies.models import Document, Policy

# Relative URLs in the templates resolve against this origin, which the fetcher
# maps onto the static files; the name cannot resolve anywhere on a network.
BASE_URL = "https://sellercover.invalid/"


def _collected(name: str) -> str | None:
    """Return the path of the collected static file `name`, or None.

    With DEBUG off the templates name the hashed copies collectstatic made (the manifest
    storage), which only STATIC_ROOT holds, not the apps' folders the finders search.
    """
    root = Path(settings.STATIC_ROOT).resolve()
    path = (root / name).resolve()
    return str(path) if path.is_relative_to(root) and path.is_file() else None


class ProjectStaticFetcher(URLFetcher):
    """Serve the project's static files to WeasyPrint and refuse every other URL unopened."""

    def fetch(self, url, headers=None):
        prefix = BASE_URL + settings.STATIC_URL.lstrip("/")
        if url.startswith(prefix):
            name = url.removeprefix(prefix).split("?")[0]
            path = finders.find(name) or _collected(name)
            if path:
                with open(path, "rb") as static_file:
                    body = static_file.read()
                content_type = mimetypes.guess_type(path)[0] or "application/octet-stream"
                return URLFetcherResponse(url, body=body, headers={"Content-Type": content_type})
        # WeasyPrint logs the refusal and renders on without the resource.
        raise ValueError(f"documents fetch nothing from outside the project: {url}")


@functools.cache
def _fonts() -> FontConfiguration:
    # Loading the fonts is a good part of a one-page render: done once per process.
    return FontConfiguration()


@functools.cache
def _stylesheet() -> CSS:
    return CSS(
        url=BASE_URL + settings.STATIC_URL.lstrip("/") + "documents/document.css",
        url_fetcher=ProjectStaticFetcher(),
        font_config=_fonts(),
    )


def render_pdf(*, template: str, context: dict, language: str) -> bytes:
    """Return the PDF of `template` rendered with `context` in `language`."""
    with translation.override(language):
        html = render_to_string(template, {**context, "language": language})
    document = HTML(string=html, base_url=BASE_URL, url_fetcher=ProjectStaticFetcher())
    return document.write_pdf(stylesheets=[_stylesheet()], font_config=_fonts())


@dataclass(frozen=True)
class Draft:
    """What a document is about and how to render it, before anything is rendered."""

    kind: str
    key: str
    template: str
    filename: str
    language: str
    context: dict
    owner: dict


def document_store(*, kind: str, key: str, filename: str, content: bytes, **fields) -> Document:
    """Store `content` as the Document `key`; return the one already stored under it if any."""
    document = Document(kind=kind, key=key, sha256=hashlib.sha256(content).hexdigest(), **fields)
    document.file.save(filename, ContentFile(content), save=False)
    try:
        with transaction.atomic():
            document.save()
    except IntegrityError:
        # Another worker stored the same event's document first: keep that one.
        document.file.delete(save=False)
        return Document.objects.get(key=key)
    return document


def document_make(*, key: str, draft: Callable[[], Draft]) -> Document:
    """Return the Document `key`, rendering and storing it from `draft()` the first time."""
    if (existing := Document.objects.filter(key=key).first()) is not None:
        return existing
    made = draft()
    content = render_pdf(template=made.template, context=made.context, language=made.language)
    return document_store(
        kind=made.kind,
        key=made.key,
        filename=made.filename,
        content=content,
        language=made.language,
        **made.owner,
    )


def issuer() -> dict:
    return {"insurer": settings.INSURER_NAME, "issued_on": timezone.localdate()}


def certificate_key(policy: Policy) -> str:
    return f"{DocumentKind.POLICY_CERTIFICATE}:{policy.number}"


def policy_certificate_make(*, policy_id: int) -> Document:
    """Return the certificate of the policy's activation, made once."""
    policy = Policy.objects.select_related("seller", "marketplace", "product_version__product").get(
        pk=policy_id
    )

    def draft() -> Draft:
        version = policy.product_version
        return Draft(
            kind=DocumentKind.POLICY_CERTIFICATE,
            key=certificate_key(policy),
            template="documents/policy_certificate.html",
            filename=f"certificate-{policy.number}.pdf",
            language=policy.seller.language,
            context={
                **issuer(),
                "policy": policy,
                "seller": policy.seller,
                "version": version,
                "covers": list(version.covers.order_by("cover")),
            },
            owner={"seller": policy.seller, "policy": policy},
        )

    return document_make(key=certificate_key(policy), draft=draft)
