"""What stands between a guesser and the accounts: the lockout page (both sign-ins) and the
password reset, limited per address and per e-mail."""

from axes.helpers import get_cool_off
from django.conf import settings
from django.contrib.auth import views as auth_views
from django.shortcuts import render
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from django_ratelimit.decorators import ratelimit


def signin_locked_out(request, original_response=None, credentials=None):
    """Return the page a locked-out sign-in gets (429), the same for the seller pages and the
    admin, naming how long the lock lasts."""
    minutes = int(get_cool_off(request).total_seconds() // 60)
    return render(request, "registration/locked_out.html", {"minutes": minutes}, status=429)


def _rate_per_address(group, request) -> str:
    return settings.PASSWORD_RESET_RATE_PER_ADDRESS


def _rate_per_email(group, request) -> str:
    return settings.PASSWORD_RESET_RATE_PER_EMAIL


def _email(group, request) -> str:
    # Case and spaces do not make a new address to send to.
    return request.POST.get("email", "").strip().lower()


class PasswordResetView(auth_views.PasswordResetView):
    """Send a reset link, at most so many times per client address and per e-mail.

    The limits count every request, whether an account uses the e-mail or not, so the
    answer past them tells no more than the answer before them.
    """

    @method_decorator(
        ratelimit(
            group="password-reset-address",
            key="ip",
            rate=_rate_per_address,
            method="POST",
            block=False,
        )
    )
    @method_decorator(
        ratelimit(
            group="password-reset-email",
            key=_email,
            rate=_rate_per_email,
            method="POST",
            block=False,
        )
    )
    def post(self, request, *args, **kwargs):
        if request.limited:
            form = self.get_form()
            # Checked first so that the form shows its own errors beside this one.
            form.is_valid()
            form.add_error(None, _("Too many requests for a reset link. Try again later."))
            return self.render_to_response(self.get_context_data(form=form), status=429)
        return super().post(request, *args, **kwargs)
