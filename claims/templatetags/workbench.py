"""The adjusters' queue on the admin index."""

from django import template
from django.utils import timezone

from claims.selectors import claims_queue_summary

register = template.Library()


@register.simple_tag
def claims_queue():
    return claims_queue_summary(today=timezone.localdate())
