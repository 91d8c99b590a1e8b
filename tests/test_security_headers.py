"""In the production profile every page carries a CSP without inline script, every cookie is
Secure and SameSite, and a client's X-Forwarded-Proto or -For is believed only behind a proxy
the environment declares."""

import importlib.util
import re
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.urls import reverse

from tests import factories

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_hasher")]

# What the production profile decides, as opposed to what tests need of their own (storage,
# database).
PROFILE_SETTINGS = re.compile(
    r"^(SECURE_|SESSION_COOKIE_|CSRF_COOKIE_|LANGUAGE_COOKIE_|CONTENT_SECURITY_POLICY|AXES_IPWARE_)"
)


def production_profile(monkeypatch, settings, **environment) -> None:
    """Read config/settings.py again with DEBUG off (and `environment`) and apply its
    security settings to this test."""
    monkeypatch.setenv("DEBUG", "false")
    monkeypatch.setenv("SECRET_KEY", "x" * 64)
    monkeypatch.setenv("ALLOWED_HOSTS", "testserver")
    monkeypatch.delenv("TRUSTED_PROXY", raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    path = Path(django_settings.BASE_DIR) / "config" / "settings.py"
    spec = importlib.util.spec_from_file_location("production_settings", path)
    profile = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(profile)
    settings.SECURE_PROXY_SSL_HEADER = None
    for name in dir(profile):
        if PROFILE_SETTINGS.match(name):
            setattr(settings, name, getattr(profile, name))


@pytest.fixture
def production(monkeypatch, settings):
    production_profile(monkeypatch, settings)


def script_src(response) -> list[str]:
    policy = response["Content-Security-Policy"]
    directives = {part.split()[0]: part.split()[1:] for part in policy.split(";") if part.strip()}
    return directives["script-src"]


def page(client, who, url_name):
    if who is not None:
        client.force_login(who)
    return client.get(reverse(url_name), secure=True)


@pytest.mark.parametrize(
    ("who", "url_name"),
    [
        (factories.SellerUserFactory, "seller:dashboard"),
        (None, "login"),
        (factories.StaffFactory, "admin:index"),
        (None, "api-docs"),
    ],
    ids=["seller-page", "sign-in", "admin", "api-docs"],
)
def test_every_page_carries_a_csp_without_inline_script(client, production, who, url_name):
    response = page(client, who() if who else None, url_name)

    assert response.status_code == 200
    assert script_src(response) == ["'self'"]
    assert "'unsafe-inline'" not in response["Content-Security-Policy"]


def test_the_api_docs_start_swagger_ui_from_a_script_file(client, production):
    docs = client.get(reverse("api-docs"), secure=True).content.decode()
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", docs, flags=re.S)
    start_up = [attrs for attrs in re.findall(r'src="([^"]*)"', docs) if "script" in attrs]

    script = client.get(start_up[0].replace("&amp;", "&"), secure=True)

    assert all('src="' in attrs and not body.strip() for attrs, body in scripts)
    assert "<style" not in docs
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")
    assert "SwaggerUIBundle" in script.content.decode()


def assert_secure_and_samesite(cookies) -> None:
    assert cookies
    for name, morsel in cookies.items():
        assert morsel["secure"], name
        assert morsel["samesite"] in ("Lax", "Strict"), name


def test_every_cookie_set_at_sign_in_is_secure_and_samesite(client, production):
    user = factories.SellerUserFactory(seller__language="en")

    response = client.post(
        reverse("login"), {"username": user.email, "password": factories.PASSWORD}, secure=True
    )

    assert response.status_code == 302
    assert {"sessionid", "csrftoken", "django_language"} <= set(response.cookies)
    assert_secure_and_samesite(response.cookies)


def test_every_cookie_set_by_the_language_switch_is_secure_and_samesite(client, production):
    client.force_login(factories.SellerUserFactory())

    response = client.post(reverse("set_language"), {"language": "en", "next": "/"}, secure=True)

    assert response.status_code == 302
    assert "django_language" in response.cookies
    assert response.cookies["django_language"]["httponly"]
    assert_secure_and_samesite(response.cookies)


def test_a_clients_x_forwarded_proto_is_not_believed(client, production):
    response = client.get(reverse("login"), HTTP_X_FORWARDED_PROTO="https")

    assert response.status_code == 301
    assert response["Location"].startswith("https://")


def test_x_forwarded_proto_is_believed_behind_a_declared_proxy(client, monkeypatch, settings):
    production_profile(monkeypatch, settings, TRUSTED_PROXY="true")

    response = client.get(reverse("login"), HTTP_X_FORWARDED_PROTO="https")

    assert response.status_code == 200


def fail_sign_ins(client, count: int, **headers) -> None:
    for n in range(count):
        client.post(
            reverse("login"),
            {"username": f"nobody{n}@example.com", "password": "wrong-password"},
            secure=True,
            **headers,
        )


def test_a_forged_x_forwarded_for_does_not_dodge_the_address_lockout(client, production):
    user = factories.SellerUserFactory()
    for n in range(django_settings.AXES_FAILURE_LIMIT):
        client.post(
            reverse("login"),
            {"username": f"nobody{n}@example.com", "password": "wrong-password"},
            secure=True,
            HTTP_X_FORWARDED_FOR=f"192.0.2.{n}",
        )

    response = client.post(
        reverse("login"),
        {"username": user.email, "password": factories.PASSWORD},
        secure=True,
        HTTP_X_FORWARDED_FOR="198.51.100.1",
    )

    assert response.status_code == 429


def test_behind_a_declared_proxy_the_address_it_saw_is_the_one_locked(
    client, monkeypatch, settings
):
    production_profile(monkeypatch, settings, TRUSTED_PROXY="true")
    user = factories.SellerUserFactory()
    # The proxy appends the address it saw to whatever the client sent.
    fail_sign_ins(client, settings.AXES_FAILURE_LIMIT, HTTP_X_FORWARDED_FOR="10.9.9.9, 203.0.113.7")

    from_the_guesser = client.post(
        reverse("login"),
        {"username": user.email, "password": factories.PASSWORD},
        HTTP_X_FORWARDED_FOR="203.0.113.7",
        HTTP_X_FORWARDED_PROTO="https",
    )
    from_elsewhere = client.post(
        reverse("login"),
        {"username": user.email, "password": factories.PASSWORD},
        HTTP_X_FORWARDED_FOR="203.0.113.7, 198.51.100.1",
        HTTP_X_FORWARDED_PROTO="https",
    )

    assert from_the_guesser.status_code == 429
    assert from_elsewhere.status_code == 302


# Rendered to PDF by WeasyPrint or sent as e-mail, never served as a page.
NOT_PAGES = ("documents", "emails")
INLINE = re.compile(
    r"<script(?![^>]*\bsrc=)[^>]*>|<style\b|<[a-z][^>]*\s(?:style|on[a-z]+)=|javascript:", re.I
)


def test_no_page_template_or_admin_markup_carries_inline_script_or_style():
    root = Path(django_settings.BASE_DIR)
    sources = [
        path
        for path in (root / "templates").rglob("*.html")
        if path.relative_to(root / "templates").parts[0] not in NOT_PAGES
    ] + [path for app in ("claims", "policies") for path in (root / app).rglob("*.py")]

    offending = [
        f"{path.relative_to(root)}: {match[0]}"
        for path in sources
        for match in INLINE.finditer(path.read_text(encoding="utf-8"))
    ]

    assert offending == []
