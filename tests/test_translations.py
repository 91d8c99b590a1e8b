"""The Russian catalogue is complete (every message translated, none left fuzzy) and every
page reads in its reader's language."""

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib import admin
from django.contrib.auth.models import Group, Permission
from django.urls import reverse
from django.utils import translation

from claims.choices import ClaimFlag, ClaimStatus, RejectionCode, SystemNote
from claims.notes import system_note
from policies.choices import DocumentKind
from policies.models import Document
from tests import factories

PO = Path(settings.BASE_DIR) / "locale" / "ru" / "LC_MESSAGES" / "django.po"


def entries() -> list[str]:
    return PO.read_text(encoding="utf-8").split("\n\n")[1:]


def fields(entry: str) -> dict[str, str]:
    """Return the entry's msgid, msgid_plural and msgstr values, continuation lines joined."""
    values, current = {}, None
    for line in entry.splitlines():
        if match := re.match(r'^(msgid|msgid_plural|msgstr(?:\[\d\])?) "(.*)"$', line):
            current = match[1]
            values[current] = match[2]
        elif line.startswith('"') and current:
            values[current] += line[1:-1]
    return values


def test_every_message_has_a_russian_translation():
    untranslated = [
        values["msgid"]
        for values in map(fields, entries())
        if any(not text for key, text in values.items() if key.startswith("msgstr"))
    ]

    assert untranslated == []


def test_no_translation_is_left_fuzzy():
    assert [entry for entry in entries() if "#, fuzzy" in entry] == []


def test_the_compiled_catalogue_is_the_one_in_use():
    with translation.override("ru"):
        assert translation.gettext("Settlement act") == "Страховой акт"
        assert translation.gettext("Waiting for sign-off") == "Ждут утверждения"


# Every page in the reader's language: nothing left in English on a Russian page, nothing in
# Russian on an English one, and no stored code (snake_case) shown instead of its label.

# Names and abbreviations that read the same in both languages.
PROPER_NAMES = {"API", "CSV", "PDF", "XLSX", "JSON", "WB", "Wildberries", "Ozon", "SLA", "ID"}
PROPER_NAMES |= {"Axes", "Crontab", "sellercover", "RU", "EN", "English", "Русский", "ИНН", "srid"}
# The keys Django's own help names as the keyboard prints them ("Control", "Command" on a Mac).
PROPER_NAMES |= {"Control", "Command", "Mac"}
# A token with a digit, an @, a dot or a slash is an id, an address or a file name.
NOT_A_WORD = re.compile(r"[\d@./:_#-]")
LATIN_WORD = re.compile(r"^[A-Za-z][A-Za-z']*$")
CYRILLIC = re.compile(r"[А-Яа-яЁё]")
SNAKE_CODE = re.compile(r"\b[a-z]+(?:_[a-z0-9]+)+\b")


class VisibleText(HTMLParser):
    """The text a person reads: text nodes and the attributes shown or spoken, not scripts."""

    HIDDEN = {"script", "style", "template"}
    SPOKEN = ("title", "placeholder", "aria-label", "alt")

    def __init__(self):
        super().__init__()
        self.parts, self.hidden = [], 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.hidden += tag in self.HIDDEN
        # Django's own icons (yes/no, search) say "True", "Search" in every language.
        if tag == "img" and "/admin/img/" in (attrs.get("src") or ""):
            return
        self.parts += [attrs[name] for name in self.SPOKEN if attrs.get(name)]
        if tag == "input" and attrs.get("type") in ("submit", "button") and attrs.get("value"):
            self.parts.append(attrs["value"])

    def handle_endtag(self, tag):
        self.hidden -= tag in self.HIDDEN

    def handle_data(self, data):
        if not self.hidden:
            self.parts.append(data)


def leftovers(html: str, *, language: str, data: list[str]) -> set[str]:
    """Return the words of `html` in the wrong language and the codes shown raw; the data
    (what people and the seed wrote: names, addresses, notes) is shown as written."""
    parser = VisibleText()
    parser.feed(html)
    text = "\n".join(parser.parts)
    for value in sorted(data, key=len, reverse=True):
        text = text.replace(value, " ")
    found = set(SNAKE_CODE.findall(text))
    for token in re.split(r"[\s«»()\[\],;:!?\"“”„·—–…]+", text):
        token = token.strip("'’")
        if not token or token in PROPER_NAMES or NOT_A_WORD.search(token):
            continue
        if language == "ru" and LATIN_WORD.match(token):
            found.add(token)
        if language == "en" and CYRILLIC.search(token):
            found.add(token)
    return found


@pytest.fixture
def every_kind_of_row(db, seller_user):
    """A seller's rows in every state a page shows, and a senior adjuster who sees them all."""
    seller = seller_user.seller
    seller.marketplace.name = "Wildberries"
    seller.marketplace.save()
    policy = factories.PolicyFactory(seller=seller, product_version__product__name="Груз+")
    factories.PolicyTransitionFactory(policy=policy)
    claims = {
        status: factories.ClaimFactory(
            shipment__policy=policy, status=status, flags=[ClaimFlag.LATE_NOTICE]
        )
        for status in ClaimStatus.values
    }
    rejected = claims[ClaimStatus.REJECTED]
    rejected.rejection_code = RejectionCode.INSUFFICIENT_EVIDENCE
    rejected.rejection_reason = "Нет фото."
    rejected.save()
    for claim in claims.values():
        factories.ClaimTransitionFactory(claim=claim)
        factories.ClaimTransitionFactory(
            claim=claim, transition="triage", source_state="submitted", target_state=claim.status
        )
        factories.ClaimMessageFactory(claim=claim)
        factories.DocumentFactory(owner=claim, kind=DocumentKind.SETTLEMENT_ACT)
    factories.PayoutFactory(claim=claims[ClaimStatus.PAID])
    # The system's own notes, written as codes by a worker in whatever language it ran.
    factories.ClaimTransitionFactory(
        claim=claims[ClaimStatus.PAID],
        transition="pay",
        source_state=ClaimStatus.APPROVED,
        target_state=ClaimStatus.PAID,
        **system_note(SystemNote.PAID, amount="1500.00", reference="PAY-TEST-1"),
    )
    factories.ClaimTransitionFactory(
        claim=claims[ClaimStatus.APPROVED],
        transition="approve",
        source_state=ClaimStatus.UNDER_REVIEW,
        target_state=ClaimStatus.APPROVED,
        **system_note(SystemNote.APPROVED_AGGREGATE_ROOM, payable="4.00"),
    )
    factories.RecoveryFactory(claim=claims[ClaimStatus.PAID])
    factories.CompensationFactory(shipment=claims[ClaimStatus.PAID].shipment)
    factories.DiscrepancyFactory(
        run=factories.ReconciliationRunFactory(trigger="schedule"),
        compensation__shipment__policy=policy,
    )
    factories.ShipmentEventFactory(shipment=claims[ClaimStatus.SUBMITTED].shipment)
    staff = factories.StaffFactory(is_superuser=True, email="senior@test.local")
    data = [seller.legal_name, "Груз+", "Нет фото.", "Фото упаковки прилагаю.", "Ювелирные изделия"]
    data += ["Одежда", "Коледино", "ПВЗ Москва, Тверская 7", str(staff), seller.marketplace.code]
    # Role and permission names are rows Django's migrations write in English.
    data += [str(name) for name in Permission.objects.values_list("name", flat=True)]
    data += [str(name) for name in Group.objects.values_list("name", flat=True)]
    # The insurer's own name and bank details, as registered.
    data += [settings.INSURER_NAME, *settings.INSURER_PAYMENT_DETAILS.values()]
    # File names as the storage wrote them (it adds a random part to a name it already holds).
    data += [name.rsplit("/", 1)[-1] for name in Document.objects.values_list("file", flat=True)]
    return {"seller_user": seller_user, "claims": claims, "staff": staff, "data": data}


def seller_urls(rows) -> list[str]:
    claims = list(rows["claims"].values())
    pages = ["dashboard", "enrol", "policies", "shipments", "claims", "claim_new", "reports"]
    return [
        *(reverse(f"seller:{name}") for name in pages),
        reverse("seller:report_upload"),
        reverse("seller:shipment", args=[claims[0].shipment_id]),
        *(reverse("seller:claim", args=[claim.number]) for claim in claims),
    ]


def admin_urls() -> list[str]:
    urls = [reverse("admin:index")]
    for model in admin.site._registry:
        meta = model._meta
        if meta.app_label not in ("claims", "policies"):
            continue
        urls.append(reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist"))
        if (row := model._default_manager.order_by("pk").first()) is not None:
            urls.append(reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[row.pk]))
    return urls


def wrong_language(client, urls, *, language: str, data: list[str]) -> str:
    """Return a line per page with words left in the wrong language; "" when none are."""
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    found = []
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, url
        if words := leftovers(response.content.decode(), language=language, data=data):
            found.append(f"{url}: {' '.join(sorted(words))}")
    return "\n".join(found)


@pytest.mark.django_db
@pytest.mark.parametrize("language", ["ru", "en"])
def test_every_seller_page_is_in_the_readers_language(client, every_kind_of_row, language):
    client.force_login(every_kind_of_row["seller_user"])

    found = wrong_language(
        client, seller_urls(every_kind_of_row), language=language, data=every_kind_of_row["data"]
    )

    assert found == "", found


@pytest.mark.django_db
@pytest.mark.parametrize("language", ["ru", "en"])
def test_every_admin_page_is_in_the_readers_language(client, every_kind_of_row, language):
    client.force_login(every_kind_of_row["staff"])

    found = wrong_language(client, admin_urls(), language=language, data=every_kind_of_row["data"])

    assert found == "", found


def test_a_leftover_english_word_and_a_raw_code_are_found():
    html = "<p>Статус: <b>under_review</b>, Triggered by <i>адм</i></p><script>var x</script>"

    assert leftovers(html, language="ru", data=[]) == {"under_review", "Triggered", "by"}
    assert leftovers(html, language="en", data=[]) == {"under_review", "Статус", "адм"}


# Each model's name in the accusative, as "Выберите …", "Добавить …", "Изменить …" and
# "Просмотреть …" take it.
ACCUSATIVE = {
    "policies.user": "пользователя",
    "policies.marketplace": "маркетплейс",
    "policies.marketplaceapikey": "API-ключ маркетплейса",
    "policies.seller": "продавца",
    "policies.product": "продукт",
    "policies.productversion": "версию продукта",
    "policies.coverterms": "условия покрытия",
    "policies.policy": "полис",
    "policies.shipment": "отправление",
    "policies.outboxmessage": "задачу исходящей очереди",
    "policies.document": "документ",
    "claims.reportimport": "загрузку отчёта",
    "claims.reportline": "строку отчёта",
    "claims.claim": "заявление",
    "claims.marketplacecompensation": "компенсацию маркетплейса",
    "claims.payout": "выплату",
    "claims.recovery": "возврат выплаты",
    "claims.reconciliationrun": "сверку",
    "claims.webhookdelivery": "доставку вебхука",
}


def heading(html: str) -> str:
    return " ".join(re.search(r"<h1[^>]*>(.*?)</h1>", html, re.S)[1].split())


def admin_pages(model, *, user, rf) -> list[tuple[str, tuple[str, ...]]]:
    """Return each admin page of `model` (list, first row, add form if allowed) with the
    titles it may have in Russian, by the user's permission to change."""
    meta, noun = model._meta, ACCUSATIVE[model._meta.label_lower]
    name = f"admin:{meta.app_label}_{meta.model_name}"
    pages = [
        (
            reverse(f"{name}_changelist"),
            (f"Выберите {noun} для изменения", f"Выберите {noun} для просмотра"),
        )
    ]
    if (row := model._default_manager.order_by("pk").first()) is not None:
        pages.append(
            (reverse(f"{name}_change", args=[row.pk]), (f"Изменить {noun}", f"Просмотреть {noun}"))
        )
    request = rf.get("/")
    request.user = user
    if admin.site._registry[model].has_add_permission(request):
        pages.append((reverse(f"{name}_add"), (f"Добавить {noun}",)))
    return pages


@pytest.mark.django_db
def test_every_admin_title_names_its_model_in_the_accusative(client, rf, every_kind_of_row):
    staff = every_kind_of_row["staff"]
    client.force_login(staff)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "ru"
    models = [
        model for model in admin.site._registry if model._meta.app_label in ("claims", "policies")
    ]

    wrong = [
        (url, title)
        for model in models
        for url, expected in admin_pages(model, user=staff, rf=rf)
        if (title := heading(client.get(url).content.decode())) not in expected
    ]

    assert wrong == []
