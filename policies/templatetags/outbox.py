from django import template

from policies.outbox import outbox_depth

register = template.Library()


@register.simple_tag
def outbox_summary() -> dict:
    return outbox_depth()
