"""Dates and instants say their format in the SDL, and answers keep to it."""

from __future__ import annotations

import datetime as dt

from schema.scalars import DATE, DATE_TIME, RFC_3339
from schema.schema import build_schema, sdl
from vaultkernel.settings import Settings


def test_date_and_datetime_are_specified_by_rfc_3339_in_the_served_schema() -> None:
    served = build_schema(Settings()).as_str() + "\n"
    assert served == sdl()
    for name in ("Date", "DateTime"):
        assert f'scalar {name} @specifiedBy(url: "{RFC_3339}")' in served


def test_answers_keep_the_documented_form() -> None:
    instant = dt.datetime(2026, 11, 23, 12, 8, 6, 529251, tzinfo=dt.UTC)
    assert DATE_TIME.serialize(instant) == "2026-11-23T12:08:06.529251+00:00"
    assert DATE_TIME.serialize(instant.replace(microsecond=0)) == "2026-11-23T12:08:06+00:00"
    assert DATE.serialize(dt.date(2026, 11, 23)) == "2026-11-23"
