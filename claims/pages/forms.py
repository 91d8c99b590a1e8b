"""Forms of the seller's pages: they check input; the rules are the services'."""

import datetime as dt
from decimal import Decimal

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from claims.choices import EligibilityCode
from claims.evidence import evidence_inspect_all
from policies.choices import Peril
from policies.errors import DomainError, ErrorCode, PolicyErrorCode
from policies.forms import DateField, DecimalField, LineField, TextField
from policies.selectors import products_on_sale
from policies.validators import MAX_DESCRIPTION_CHARS


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class EvidenceField(forms.FileField):
    """Several files at once, inspected by the evidence rules: every refused file is named on
    the form with its reason, and the service is handed the inspected files."""

    widget = MultipleFileInput(
        attrs={"accept": ".jpg,.jpeg,.png,.pdf,image/jpeg,image/png,application/pdf"}
    )

    def __init__(self, **kwargs):
        # An empty file is refused by the evidence rules, in a message naming it.
        super().__init__(allow_empty_file=True, **kwargs)

    def clean(self, data, initial=None):
        files = data if isinstance(data, list | tuple) else [data] if data else []
        files = [super(EvidenceField, self).clean(f, initial) for f in files]
        try:
            return evidence_inspect_all(files)
        except DomainError as exc:
            raise forms.ValidationError(
                [
                    forms.ValidationError(message, code=exc.code)
                    for message in exc.fields["evidence"]
                ]
            ) from exc


class ClaimForm(forms.Form):
    shipment = LineField(
        label=_("Shipment or order id"),
        max_length=64,
        help_text=_("The marketplace's shipment id (srid), or the order id if it has one item."),
    )
    peril = forms.ChoiceField(label=_("What happened"), choices=Peril.choices)
    event_date = DateField(
        label=_("Date of the event"),
        widget=forms.DateInput(format="%Y-%m-%d", attrs={"type": "date"}),
    )
    claimed_amount = DecimalField(
        label=_("Amount claimed, ₽"),
        max_digits=14,
        decimal_places=2,
        min_value=Decimal("0.01"),
        localize=True,
    )
    description = TextField(
        label=_("Description"), max_length=MAX_DESCRIPTION_CHARS, required=False
    )
    evidence = EvidenceField(
        label=_("Photos and documents"),
        required=False,
        help_text=_("JPEG, PNG or PDF, up to 10 MB each, at most 10 per claim."),
    )

    def clean_event_date(self):
        day = self.cleaned_data["event_date"]
        if day > timezone.localdate():
            raise forms.ValidationError(
                _("The event cannot be in the future."), code=EligibilityCode.EVENT_IN_FUTURE
            )
        return day


class AnswerForm(forms.Form):
    message = TextField(label=_("Your answer"))
    evidence = EvidenceField(label=_("Add files"), required=False)


class MessageForm(forms.Form):
    body = TextField(label=_("Message"), widget=forms.Textarea(attrs={"rows": 3}))


class EnrolForm(forms.Form):
    product = forms.ModelChoiceField(
        label=_("Product"), queryset=products_on_sale(), to_field_name="code", empty_label=None
    )
    starts_on = DateField(
        label=_("Cover starts on"),
        widget=forms.DateInput(format="%Y-%m-%d", attrs={"type": "date"}),
    )
    accept = forms.BooleanField(
        label=_("I have read the terms and accept them on behalf of the seller"), required=True
    )

    def clean_starts_on(self):
        day = self.cleaned_data["starts_on"]
        if day < timezone.localdate():
            raise forms.ValidationError(
                _("Cover cannot start in the past."), code=PolicyErrorCode.START_IN_PAST
            )
        if day > timezone.localdate() + dt.timedelta(days=90):
            raise forms.ValidationError(
                _("Cover can start at most 90 days ahead."),
                code=PolicyErrorCode.START_TOO_FAR_AHEAD,
            )
        return day


class EstimateForm(forms.Form):
    """What the seller expects to ship, for a premium estimate before enrolling."""

    shipments = forms.IntegerField(
        label=_("Shipments a month"), min_value=1, max_value=10_000_000, initial=1000
    )
    average_value = DecimalField(
        label=_("Average declared value, ₽"),
        min_value=Decimal("1"),
        max_digits=12,
        decimal_places=2,
        initial=Decimal("2500"),
        localize=True,
    )


# A year of a large seller's WB detail report as XLSX is some tens of megabytes; the file
# is read into memory once to be recognised, so anything far larger is refused up front.
MAX_REPORT_BYTES = 50 * 1024 * 1024
REPORT_ACCEPT = (
    ".json,.xlsx,.csv,application/json,text/csv,"
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
)


class ReportUploadForm(forms.Form):
    """A marketplace finance report; which one it is the importer tells from its content."""

    file = forms.FileField(
        label=_("Report file"),
        help_text=_(
            "Wildberries: the weekly detail report (XLSX or CSV) or the API's JSON; "
            "Ozon: the transaction list (JSON). Up to 50 MB."
        ),
        widget=forms.ClearableFileInput(attrs={"accept": REPORT_ACCEPT}),
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > MAX_REPORT_BYTES:
            raise forms.ValidationError(
                _("The file is larger than 50 MB."), code=ErrorCode.INVALID_FILE
            )
        return upload
