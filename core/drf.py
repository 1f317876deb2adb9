"""DRF plumbing every app's API shares: the one error shape, strict input, one pagination.

Input is strict on purpose: a typo in a field name or a number sent as a name is a 400 naming the field,
never a silent no-op, and a time without a zone is refused rather than guessed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.validators import ID_MAX


class ErrorSerializer(serializers.Serializer):
    """The one error shape (core/exceptions.py)."""

    message = serializers.CharField()
    extra = serializers.DictField()

    class Meta:
        ref_name = "Error"


ERRORS = {
    400: OpenApiResponse(ErrorSerializer, description="Invalid input; `message` names the first bad field."),
    404: OpenApiResponse(ErrorSerializer, description="No such thing among yours (also for other owners' things)."),
    415: OpenApiResponse(ErrorSerializer, description="The body is not of the media type this operation takes."),
}


# Sent by HTML forms that post to the API with a session; it is not data.
IGNORED_INPUT_KEYS = frozenset({"csrfmiddlewaretoken"})


class StrictInputSerializer(serializers.Serializer):
    """Refuses fields it does not declare, so `{"nmae": "x"}` is an error, not an empty update."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, Mapping):
            unknown = sorted(set(data) - set(self.fields) - IGNORED_INPUT_KEYS)
            if unknown:
                raise serializers.ValidationError({name: ["Unknown field."] for name in unknown})
        return super().to_internal_value(data)


class IdField(serializers.IntegerField):
    """A row's id given as input: a whole number from 1 to the largest bigint, else a 400 naming the field."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", ID_MAX)
        super().__init__(**kwargs)


class TextField(serializers.CharField):
    """A CharField that takes only strings: `{"name": 123}` is a type error, not "123".

    Text no database stores (NUL, a lone surrogate: core.validators) is refused by DRF's CharField itself (its
    ProhibitNullCharacters and ProhibitSurrogateCharacters validators); tests/core/test_text_input.py holds it."""

    default_error_messages = {"invalid": "Must be text."}

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    """A BooleanField that takes only JSON true and false: DRF's would read 0, 1, "yes" or "off" as well, which the
    schema (type boolean) does not allow."""

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid", input=data)
        return data


class NumberField(serializers.FloatField):
    """A FloatField that refuses booleans (Python would read `true` as 1.0)."""

    def to_internal_value(self, data: Any) -> float:
        if isinstance(data, bool):
            self.fail("invalid")
        return super().to_internal_value(data)


class AwareDateTimeField(serializers.DateTimeField):
    """ISO 8601 with a zone (`Z` or `+01:00`). A naive time is refused: the server must not guess the zone."""

    default_error_messages = {"naive": "Give the time with a time zone, like 2026-01-31T08:00:00Z."}

    def enforce_timezone(self, value):
        if timezone.is_naive(value):
            self.fail("naive")
        return super().enforce_timezone(value)


class Pagination(LimitOffsetPagination):
    """limit/offset paging, strict like the rest of the input: `offset=abc` or a repeated `limit` is a 400 naming
    the parameter (DRF would quietly serve the first page); a limit above :attr:`max_limit` is capped."""

    default_limit = 50
    max_limit = 500

    def get_limit(self, request: Request) -> int:
        limit = _whole_number(request, self.limit_query_param, minimum=1)
        return self.default_limit if limit is None else min(limit, self.max_limit)

    def get_offset(self, request: Request) -> int:
        offset = _whole_number(request, self.offset_query_param, minimum=0)
        return 0 if offset is None else offset

    def get_schema_operation_parameters(self, view: APIView) -> list[dict[str, Any]]:
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            minimum = 1 if parameter["name"] == self.limit_query_param else 0
            parameter["schema"] = {"type": "integer", "minimum": minimum}
        return parameters


def _whole_number(request: Request, name: str, *, minimum: int) -> int | None:
    values = request.query_params.getlist(name)
    if not values:
        return None
    if len(values) > 1:
        raise serializers.ValidationError({name: [f"Give {name} once."]})
    text = values[0].strip()
    if not (text.isascii() and text.isdigit()) or int(text) < minimum:
        raise serializers.ValidationError({name: [f"{name} is a whole number, at least {minimum}."]})
    return int(text)


def paginated_response(*, request: Request, view: APIView, queryset, serializer_class) -> Response:
    paginator = Pagination()
    page = paginator.paginate_queryset(queryset, request, view=view)
    return paginator.get_paginated_response(serializer_class(page, many=True, context={"request": request}).data)
