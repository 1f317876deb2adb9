"""Placeholder views; the tags work replaces them."""

from django.http import Http404


def _todo(request, **kwargs):
    raise Http404


tag_enter = tag_scan = tag_message = tag_public_photo = tag_claim = _todo
tag_create = tag_labels = tag_qr_png = tag_qr_svg = tag_retire = _todo
