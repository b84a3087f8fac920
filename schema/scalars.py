"""The ``Date`` and ``DateTime`` scalars as strawberry serialises them, with their formats
stated in the SDL (a description and ``@specifiedBy``) so that clients and generators know
them (docs/api.md#conventions)."""

from __future__ import annotations

import dataclasses
import datetime as dt

from strawberry.schema.types.base_scalars import DateDefinition, DateTimeDefinition
from strawberry.types.scalar import ScalarDefinition

RFC_3339 = "https://www.rfc-editor.org/rfc/rfc3339"

DATE = dataclasses.replace(
    DateDefinition,
    description="A calendar date, RFC 3339 full-date: YYYY-MM-DD (2026-11-23).",
    specified_by_url=RFC_3339)

DATE_TIME = dataclasses.replace(
    DateTimeDefinition,
    description="An instant, RFC 3339 date-time: answers are in UTC with the offset written "
    "+00:00 and microseconds when not zero (2026-11-23T12:08:06.529251+00:00); arguments "
    "need an offset (Z or +hh:mm), their fractional seconds are optional.",
    specified_by_url=RFC_3339)

OVERRIDES: dict[object, ScalarDefinition] = {dt.date: DATE, dt.datetime: DATE_TIME}
