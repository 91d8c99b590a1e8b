"""The adjusters' queue on the admin index."""

from django import template
from django.utils import timezone

from claims.selectors import claims_open_assigned_count, claims_queue_summary

register = template.Library()


@register.simple_tag
def claims_queue():
    return claims_queue_summary(today=timezone.localdate())


@register.simple_tag
def claims_assigned_count(user):
    return claims_open_assigned_count(user=user)
