"""The seller's pages: each reads through a selector scoped to the user's seller and writes
through a service; anything that is not the seller's own is a 404."""

import datetime as dt
from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import LoginView
from django.core.paginator import Paginator
from django.db.models import Prefetch
from django.http import Http404, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST
from django_fsm import can_proceed

from claims import lifecycle
from claims.assessment import appeal_by
from claims.choices import ClaimStatus, MessageAuthor, ReportOutcome
from claims.filing import claim_file_with_evidence, claim_preview
from claims.models import Evidence, ReportImport, ReportImportStatus
from claims.notes import transition_note
from claims.page_errors import show_domain_error
from claims.pages.figures import (
    claims_count,
    figures_csv,
    limit_bars,
    money_chart,
    month_label,
    status_chart,
    status_table,
)
from claims.pages.files import evidence_file
from claims.pages.forms import (
    AnswerForm,
    ClaimForm,
    EnrolForm,
    EstimateForm,
    MessageForm,
    ReportUploadForm,
)
from claims.pages.preview import preview_findings, preview_next_step
from claims.pages.reports import CSV_FIELDS, label_lines, report_lines_csv
from claims.pages.uploads import evidence_uploads
from claims.reports.importing import report_upload_request
from claims.selectors import (
    REPORT_FEES,
    claim_money_line,
    claims_with_money_line,
    policy_usage,
    report_import_lines,
    report_import_opened_claims,
    seller_claim_get,
    seller_claims,
    seller_figures,
    seller_report_import_get,
    seller_report_imports,
    seller_summary,
)
from claims.thread import claim_message_post
from policies.actors import Actor
from policies.calculation import premium_estimate
from policies.choices import DocumentKind, ShipmentEventKind
from policies.errors import DomainError
from policies.models import Document
from policies.selectors import (
    products_on_sale,
    seller_next_policy_start,
    seller_policies,
    seller_policy_in_force,
    seller_shipment_find,
    seller_shipment_get,
    seller_shipments,
)
from policies.services import policy_enrol, product_current_version

PAGE_SIZE = 25


def seller_required(view):
    """Let in the users of a seller; send staff to the admin and refuse everyone else."""

    @wraps(view)
    @login_required
    def wrapped(request, *args, **kwargs):
        if request.user.seller_id is None:
            if request.user.is_staff:
                return redirect("admin:index")
            raise Http404
        return view(request, *args, **kwargs)

    return wrapped


class SignInView(LoginView):
    """Sign in; a seller's user who has not picked a language gets the seller's."""

    def form_valid(self, form):
        response = super().form_valid(form)
        seller = form.get_user().seller
        if seller is not None and settings.LANGUAGE_COOKIE_NAME not in self.request.COOKIES:
            response.set_cookie(
                settings.LANGUAGE_COOKIE_NAME,
                seller.language,
                # The same cookie as Django's language switch sets.
                max_age=settings.LANGUAGE_COOKIE_AGE,
                path=settings.LANGUAGE_COOKIE_PATH,
                domain=settings.LANGUAGE_COOKIE_DOMAIN,
                secure=settings.LANGUAGE_COOKIE_SECURE,
                httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
                samesite=settings.LANGUAGE_COOKIE_SAMESITE,
            )
        return response


def _param(request, name: str) -> str:
    # A control character (a NUL among them) never gets here: ControlCharactersMiddleware.
    return request.GET.get(name, "").strip()


def _page(request, queryset):
    return Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))


def _with_lines(claims) -> list[tuple]:
    """Pair each claim (read through `claims_with_money_line`) with its money line."""
    return [(claim, claim_money_line(claim)) for claim in claims]


@seller_required
def dashboard(request):
    seller_id = request.user.seller_id
    policy = seller_policy_in_force(seller_id=seller_id)
    usage = policy_usage(policy_id=policy.pk) if policy else None
    summary = seller_summary(seller_id=seller_id)
    return render(
        request,
        "seller/dashboard.html",
        {
            "policy": policy,
            "usage": usage,
            "summary": summary,
            "status_counts": [
                (code, label, summary.by_status[code])
                for code, label in ClaimStatus.choices
                if summary.by_status.get(code)
            ],
            "waiting": seller_claims(seller_id=seller_id)
            .filter(status=ClaimStatus.INFO_REQUESTED)
            .order_by("info_requested_at")[:10],
            "recent": _with_lines(
                claims_with_money_line(seller_claims(seller_id=seller_id)).order_by(
                    "-created_at", "-pk"
                )[:5]
            ),
            "upload_form": ReportUploadForm(),
            "latest_import": seller_report_imports(seller_id=seller_id).first(),
        },
    )


@seller_required
def figures(request):
    """The seller's money and claims month by month, as charts and as tables."""
    data = seller_figures(seller_id=request.user.seller_id, today=timezone.localdate())
    return render(
        request,
        "seller/figures.html",
        {
            "figures": data,
            "months": [(month_label(m.month), m) for m in data.months if m.claims],
            "first_month": month_label(data.months[0].month),
            "last_month": month_label(data.months[-1].month),
            "total_claims": claims_count(data.total.claims),
            "money_chart": money_chart(data.months),
            "status_chart": status_chart(data.months),
            "status_table": status_table(data),
            "limit_bars": limit_bars(data.policies),
        },
    )


@require_GET
@seller_required
def figures_download(request):
    """The month-by-month money of the figures page as CSV, in the reader's language."""
    data = seller_figures(seller_id=request.user.seller_id, today=timezone.localdate())
    response = HttpResponse(figures_csv(data), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="figures-{data.months[-1].month:%Y-%m}.csv"'
    )
    response["Cache-Control"] = "private, no-store"
    return response


@seller_required
def enrol(request):
    seller = request.user.seller
    estimate_form = EstimateForm(request.GET or None)
    form = EnrolForm(
        request.POST or None,
        initial={
            "starts_on": seller_next_policy_start(seller_id=seller.pk, today=timezone.localdate()),
            "product": request.GET.get("product"),
        },
    )
    if request.method == "POST" and form.is_valid():
        try:
            policy = policy_enrol(
                seller=seller,
                product_code=form.cleaned_data["product"].code,
                starts_on=form.cleaned_data["starts_on"],
                actor=Actor.for_user(request.user),
            )
        except DomainError as exc:
            show_domain_error(request, exc, form=form)
        else:
            messages.success(
                request,
                _("Policy %(number)s is active. Its certificate is below.")
                % {"number": policy.number},
            )
            return redirect("seller:policies")
    today = timezone.localdate()
    offers = []
    for product in products_on_sale():
        try:
            version = product_current_version(product=product, on=today)
        except DomainError:
            continue
        covers = list(version.covers.order_by("cover"))
        estimate = None
        if estimate_form.is_valid():
            estimate = premium_estimate(
                covers=covers,
                shipments=estimate_form.cleaned_data["shipments"],
                average_value=estimate_form.cleaned_data["average_value"],
            )
        offers.append(
            {
                "product": product,
                "version": version,
                "covers": [(c, estimate[c.cover] if estimate else None) for c in covers],
                "total": sum(estimate.values()) if estimate else None,
            }
        )
    return render(
        request,
        "seller/enrol.html",
        {
            "form": form,
            "estimate_form": estimate_form,
            "offers": offers,
            "policy": seller_policy_in_force(seller_id=seller.pk),
        },
    )


@seller_required
def policy_list(request):
    certificates = Document.objects.filter(kind=DocumentKind.POLICY_CERTIFICATE)
    policies = list(
        seller_policies(seller_id=request.user.seller_id).prefetch_related(
            Prefetch("documents", queryset=certificates, to_attr="certificates")
        )
    )
    return render(request, "seller/policies.html", {"policies": policies})


@seller_required
def shipment_list(request):
    search = _param(request, "q")
    last_event = _param(request, "event")
    insured = _param(request, "insured")
    shipments = seller_shipments(
        seller_id=request.user.seller_id,
        search=search,
        last_event=last_event if last_event in ShipmentEventKind.values else "",
        insured=insured,
    )
    page = _page(request, shipments)
    labels = dict(ShipmentEventKind.choices)
    for shipment in page.object_list:
        shipment.last_event_label = labels.get(shipment.last_event, "—")
    return render(
        request,
        "seller/shipments.html",
        {
            "page": page,
            "q": search,
            "event": last_event,
            "insured": insured,
            "event_kinds": ShipmentEventKind.choices,
        },
    )


@seller_required
def shipment_detail(request, pk: int):
    shipment = seller_shipment_get(seller_id=request.user.seller_id, pk=pk)
    return render(
        request,
        "seller/shipment.html",
        {"shipment": shipment, "claims": list(shipment.claims.order_by("created_at"))},
    )


@seller_required
def claim_list(request):
    status = _param(request, "status")
    search = _param(request, "q")
    claims = seller_claims(seller_id=request.user.seller_id).order_by("-created_at", "-pk")
    if status in ClaimStatus.values:
        claims = claims.filter(status=status)
    if search:
        claims = (
            claims.filter(number__icontains=search)
            | claims.filter(shipment__order_id__startswith=search)
            | claims.filter(shipment__external_id__startswith=search)
        )
    page = _page(request, claims_with_money_line(claims))
    return render(
        request,
        "seller/claims.html",
        {
            "page": page,
            "rows": _with_lines(page.object_list),
            "status": status,
            "q": search,
            "statuses": ClaimStatus.choices,
        },
    )


def _claim_form_shipment(request, form) -> object | None:
    shipment = seller_shipment_find(
        seller_id=request.user.seller_id, reference=form.cleaned_data["shipment"]
    )
    if shipment is None:
        form.add_error(
            "shipment",
            _(
                "None of your shipments has this id, or the order has several items: use the "
                "shipment id."
            ),
        )
    return shipment


@evidence_uploads
@seller_required
def claim_new(request):
    """Check a claim against the rules first; file it, with its files, on the second step."""
    initial = {"event_date": timezone.localdate()}
    if (shipment_id := request.GET.get("shipment", "")).isdigit():
        shipment = seller_shipment_get(seller_id=request.user.seller_id, pk=int(shipment_id))
        initial["shipment"] = shipment.external_id
    form = ClaimForm(request.POST or None, request.FILES or None, initial=initial)
    preview = None
    # A refused file still shows the check, since only there is the file field shown again
    # with the reasons beside it.
    if form.is_bound and not form.errors.keys() - {"evidence"}:
        shipment = _claim_form_shipment(request, form)
        data = form.cleaned_data
        spec = {
            "seller": request.user.seller,
            "peril": data["peril"],
            "event_date": data["event_date"],
            "claimed_amount": data["claimed_amount"],
        }
        if shipment is not None:
            try:
                if "submit" in request.POST and form.is_valid():
                    claim = claim_file_with_evidence(
                        user=request.user,
                        shipment=shipment,
                        description=data["description"],
                        files=data["evidence"],
                        **spec,
                    )
                    messages.success(
                        request,
                        _("Claim %(number)s is submitted. Its acknowledgement is below.")
                        % {"number": claim.number},
                    )
                    return redirect("seller:claim", number=claim.number)
                preview = claim_preview(shipment=shipment, **spec)
            except DomainError as exc:
                show_domain_error(request, exc, form=form)
    return render(
        request,
        "seller/claim_new.html",
        {
            "form": form,
            "preview": preview,
            "findings": preview_findings(preview) if preview else [],
            "next_step": preview_next_step(preview) if preview else "",
        },
    )


def _appeal_until(claim, steps) -> dt.date | None:
    """Return the last day to appeal the claim's rejection, if it was rejected."""
    rejected = claim.status == ClaimStatus.REJECTED or (
        claim.status == ClaimStatus.CLOSED and claim.closed_from == ClaimStatus.REJECTED
    )
    rejection = next((s for s in reversed(steps) if s.transition == "reject"), None)
    if not rejected or rejection is None:
        return None
    return appeal_by(decided_on=timezone.localdate(rejection.at))


@seller_required
def claim_detail(request, number: str):
    claim = seller_claim_get(seller_id=request.user.seller_id, number=number)
    steps = list(claim.transitions.all())
    thread = list(claim.messages.all())
    appeal_until = _appeal_until(claim, steps)
    return render(
        request,
        "seller/claim.html",
        {
            "claim": claim,
            "line": claim_money_line(claim),
            "payment_details": settings.INSURER_PAYMENT_DETAILS,
            "appeal_until": appeal_until,
            "appeal_open": appeal_until is not None and timezone.localdate() <= appeal_until,
            "history": [
                (step, ClaimStatus(step.target_state).label, transition_note(step))
                for step in steps
            ],
            "answer_form": AnswerForm(),
            "message_form": MessageForm(),
            "can_withdraw": can_proceed(claim.withdraw),
            "can_answer": claim.status == ClaimStatus.INFO_REQUESTED,
            "question": next(
                (m for m in reversed(thread) if m.author_kind == MessageAuthor.ADJUSTER), None
            ),
        },
    )


def _claim_action(request, number: str, form_class, action):
    claim = seller_claim_get(seller_id=request.user.seller_id, number=number)
    form = form_class(request.POST, request.FILES)
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
        return redirect("seller:claim", number=claim.number)
    try:
        action(claim, form.cleaned_data)
    except DomainError as exc:
        show_domain_error(request, exc)
    return redirect("seller:claim", number=claim.number)


@evidence_uploads
@require_POST
@seller_required
def claim_answer(request, number: str):
    def answer(claim, data):
        lifecycle.claim_provide_info(
            claim_id=claim.pk, user=request.user, message=data["message"], files=data["evidence"]
        )
        messages.success(request, _("Thank you: the claim is back with the adjuster."))

    return _claim_action(request, number, AnswerForm, answer)


@require_POST
@seller_required
def claim_message(request, number: str):
    def post(claim, data):
        claim_message_post(claim_id=claim.pk, user=request.user, body=data["body"])
        messages.success(request, _("Message sent."))

    return _claim_action(request, number, MessageForm, post)


@require_POST
@seller_required
def claim_withdraw(request, number: str):
    claim = seller_claim_get(seller_id=request.user.seller_id, number=number)
    try:
        lifecycle.claim_withdraw(claim_id=claim.pk, user=request.user)
    except DomainError as exc:
        show_domain_error(request, exc)
    else:
        messages.success(request, _("The claim is withdrawn."))
    return redirect("seller:claim", number=claim.number)


@seller_required
def evidence_download(request, number: str, pk: int):
    claim = seller_claim_get(seller_id=request.user.seller_id, number=number)
    return evidence_file(get_object_or_404(Evidence, claim=claim, pk=pk))


# Marketplace finance reports: the seller uploads one, follows its import, reads what each
# row came to.

FINISHED = (ReportImportStatus.DONE, ReportImportStatus.FAILED)
# How many of the claims an import opened its page links one by one; the rest are a filter.
OPENED_CLAIMS_SHOWN = 20


@seller_required
def report_upload(request):
    """Store the seller's report and queue its import; its result page follows the import."""
    # Bound on every POST: a post without the file is an error to show, not an empty form.
    posted = request.method == "POST"
    form = ReportUploadForm(request.POST, request.FILES) if posted else ReportUploadForm()
    if posted and form.is_valid():
        upload = form.cleaned_data["file"]
        seller = request.user.seller
        try:
            imported = report_upload_request(seller=seller, upload=upload, user=request.user)
        except DomainError as exc:
            show_domain_error(request, exc, form=form, field="file")
        else:
            return redirect("seller:report", pk=imported.pk)
    return render(request, "seller/report_upload.html", {"upload_form": form})


@seller_required
def report_list(request):
    imports = seller_report_imports(seller_id=request.user.seller_id)
    return render(request, "seller/reports.html", {"page": _page(request, imports)})


def _progress_text(imported: ReportImport) -> str:
    return _("%(done)s of %(rows)s rows read") % {
        "done": imported.processed,
        "rows": imported.rows,
    }


@seller_required
def report_detail(request, pk: int):
    imported = seller_report_import_get(seller_id=request.user.seller_id, pk=pk)
    context = {
        "imported": imported,
        "finished": imported.status in FINISHED,
        "progress_text": _progress_text(imported),
    }
    if imported.status == ReportImportStatus.FAILED:
        context["upload_form"] = ReportUploadForm()
    if imported.status == ReportImportStatus.DONE:
        show = _param(request, "outcome")
        filters = [(REPORT_FEES, _("Insured fees")), *ReportOutcome.choices]
        if show not in dict(filters):
            show = ""
        page = _page(request, report_import_lines(imported=imported, show=show))
        page.object_list = label_lines(page.object_list)
        opened = report_import_opened_claims(imported=imported)
        context |= {
            "page": page,
            "show": show,
            "filters": filters,
            "outcome_counts": [
                (code, label, imported.outcomes[code])
                for code, label in ReportOutcome.choices
                if imported.outcomes.get(code)
            ],
            "claims_opened": imported.outcomes.get(ReportOutcome.CLAIM_OPENED, 0),
            "claims_updated": imported.outcomes.get(ReportOutcome.CLAIM_UPDATED, 0),
            "compensations": imported.outcomes.get(ReportOutcome.COMPENSATION_RECORDED, 0),
            "opened_claims": list(opened[:OPENED_CLAIMS_SHOWN]),
        }
    return render(request, "seller/report.html", context)


@require_GET
@seller_required
def report_status(request, pk: int):
    """Say how far the import is, for the result page to follow it without reloading."""
    imported = seller_report_import_get(seller_id=request.user.seller_id, pk=pk)
    response = JsonResponse(
        {
            "status": imported.status,
            "status_label": imported.get_status_display(),
            "finished": imported.status in FINISHED,
            "rows": imported.rows,
            "processed": imported.processed,
            "percent": imported.percent,
            "progress_text": _progress_text(imported),
        }
    )
    response["Cache-Control"] = "private, no-store"
    return response


@require_GET
@seller_required
def report_csv(request, pk: int):
    """Stream what each row of the report came to, in the seller's language."""
    imported = seller_report_import_get(seller_id=request.user.seller_id, pk=pk)
    lines = report_import_lines(imported=imported).values_list(*CSV_FIELDS)
    response = StreamingHttpResponse(
        report_lines_csv(lines.iterator(chunk_size=2000), language=get_language()),
        content_type="text/csv; charset=utf-8",
    )
    response["Content-Disposition"] = f'attachment; filename="report-{imported.pk}-rows.csv"'
    response["Cache-Control"] = "private, no-store"
    return response
