"""The tables of kept findings: each row version with the `as_of` interval in which it holds.

One table per list of the findings document (obligations, violations, escalations), one for each
partition's earliest veto proposal per (unit, year), one for stored events that today's rules
reject. Every row names its partition (`part`), so that re-deriving a partition replaces exactly
its rows. `ord` is the instant a list is sorted by (SPEC §4), then `id`.

`oblige_kept_counts` keeps, per list, unit, key and day, how many row versions begin that day less
how many end: a page's counts at any `as_of` are a sum over days plus the part of its own day
(`store/counts.py`), not a count of every row version of a unit.
"""
from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, String, Table, Text
from sqlmodel import Field, SQLModel

NAME, CODE, PART = 128, 64, 200


class KeptObligation(SQLModel, table=True):
    __tablename__ = "oblige_kept_obligations"
    __table_args__ = (Index("ix_oblige_ko_ord", "ord", "id"), Index("ix_oblige_ko_unit", "unit", "ord", "id"),
                      Index("ix_oblige_ko_part", "part"), Index("ix_oblige_ko_due", "unit", "status", "due"),
                      # what begins and what ends within a day (counts), and what is in force at as_of
                      Index("ix_oblige_ko_from", "valid_from"), Index("ix_oblige_ko_to", "valid_to"))

    id: str = Field(sa_column=Column(String(CODE), primary_key=True))
    valid_from: int = Field(sa_column=Column(BigInteger, primary_key=True))
    valid_to: int = Field(sa_column=Column(BigInteger, nullable=False))
    part: str = Field(sa_column=Column(String(PART), nullable=False))
    unit: str = Field(sa_column=Column(String(CODE), nullable=False))
    status: str = Field(sa_column=Column(String(16), nullable=False))
    article: int = Field(sa_column=Column(Integer, nullable=False))
    subject: str | None = Field(default=None, sa_column=Column(String(NAME), nullable=True))
    period: str | None = Field(default=None, sa_column=Column(String(16), nullable=True))
    ord: int = Field(sa_column=Column(BigInteger, nullable=False))  # triggered_at
    due: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    body: str = Field(sa_column=Column(Text, nullable=False))


class KeptViolation(SQLModel, table=True):
    __tablename__ = "oblige_kept_violations"
    __table_args__ = (Index("ix_oblige_kv_ord", "ord", "id"), Index("ix_oblige_kv_unit", "unit", "ord", "id"),
                      Index("ix_oblige_kv_part", "part"),
                      Index("ix_oblige_kv_from", "valid_from"), Index("ix_oblige_kv_to", "valid_to"))

    id: str = Field(sa_column=Column(String(CODE), primary_key=True))
    valid_from: int = Field(sa_column=Column(BigInteger, primary_key=True))
    valid_to: int = Field(sa_column=Column(BigInteger, nullable=False))
    part: str = Field(sa_column=Column(String(PART), nullable=False))
    unit: str = Field(sa_column=Column(String(CODE), nullable=False))
    status: str | None = Field(default=None, sa_column=Column(String(16), nullable=True))  # its obligation's
    article: int = Field(sa_column=Column(Integer, nullable=False))
    kind: str = Field(sa_column=Column(String(16), nullable=False))
    subject: str | None = Field(default=None, sa_column=Column(String(NAME), nullable=True))
    period: str | None = Field(default=None, sa_column=Column(String(16), nullable=True))
    ord: int = Field(sa_column=Column(BigInteger, nullable=False))  # at
    body: str = Field(sa_column=Column(Text, nullable=False))


class KeptEscalation(SQLModel, table=True):
    """Supervision notices (basis `rule`) and criticism proposals (basis `proposed`, which a
    determination in force replaces and a completed assessment declines, at the reader's as_of)."""

    __tablename__ = "oblige_kept_escalations"
    __table_args__ = (Index("ix_oblige_ke_ord", "ord", "id"), Index("ix_oblige_ke_unit", "unit", "ord", "id"),
                      Index("ix_oblige_ke_part", "part"),
                      Index("ix_oblige_ke_from", "valid_from"), Index("ix_oblige_ke_to", "valid_to"))

    id: str = Field(sa_column=Column(String(CODE), primary_key=True))
    valid_from: int = Field(sa_column=Column(BigInteger, primary_key=True))
    valid_to: int = Field(sa_column=Column(BigInteger, nullable=False))
    part: str = Field(sa_column=Column(String(PART), nullable=False))
    unit: str = Field(sa_column=Column(String(CODE), nullable=False))
    status: str | None = Field(default=None, sa_column=Column(String(16), nullable=True))  # behind it
    article: int = Field(sa_column=Column(Integer, nullable=False))  # of the violation behind it
    subject: str | None = Field(default=None, sa_column=Column(String(NAME), nullable=True))  # behind it
    level: str = Field(sa_column=Column(String(32), nullable=False))
    year: int = Field(sa_column=Column(Integer, nullable=False))
    ord: int = Field(sa_column=Column(BigInteger, nullable=False))  # at
    body: str = Field(sa_column=Column(Text, nullable=False))


class KeptVeto(SQLModel, table=True):
    """A veto proposal of a (unit, year) resting on one violation; the reader takes the earliest."""

    __tablename__ = "oblige_kept_vetoes"
    # the earliest proposal of a (unit, year) is the first of its key in this order
    __table_args__ = (Index("ix_oblige_kt_key", "unit", "year", "at", "v_at"), Index("ix_oblige_kt_part", "part"))

    part: str = Field(sa_column=Column(String(PART), primary_key=True))
    unit: str = Field(sa_column=Column(String(CODE), primary_key=True))
    year: int = Field(sa_column=Column(Integer, primary_key=True))
    valid_from: int = Field(sa_column=Column(BigInteger, primary_key=True))
    valid_to: int = Field(sa_column=Column(BigInteger, nullable=False))
    at: int = Field(sa_column=Column(BigInteger, nullable=False))
    v_at: int = Field(sa_column=Column(BigInteger, nullable=False))
    rule: str = Field(sa_column=Column(String(NAME), nullable=False))
    subject: str = Field(sa_column=Column(String(NAME), nullable=False))
    period: str = Field(sa_column=Column(String(16), nullable=False))
    because: str = Field(sa_column=Column(String(CODE), primary_key=True))
    status: str | None = Field(default=None, sa_column=Column(String(16), nullable=True))
    article: int = Field(sa_column=Column(Integer, nullable=False))


class KeptRejection(SQLModel, table=True):
    """A stored event that the rules in use reject (a store written by an older oblige, or read
    with another unit registry): reported in `rejected`, never evaluated."""

    __tablename__ = "oblige_kept_rejections"
    __table_args__ = (Index("ix_oblige_kr_part", "part"),)

    seq: int = Field(sa_column=Column(BigInteger, primary_key=True))
    part: str = Field(sa_column=Column(String(PART), nullable=False))
    body: str = Field(sa_column=Column(Text, nullable=False))  # the rejection's JSON (file, line, id, error)


class KeptCount(SQLModel, table=True):
    """Row versions of one list (`o`, `v`, `e`) that begin on a day less those that end on it, by
    unit and by what counts split on: the status behind the row, its article, an escalation's level and year."""

    __tablename__ = "oblige_kept_counts"

    list: str = Field(sa_column=Column(String(1), primary_key=True))
    unit: str = Field(sa_column=Column(String(CODE), primary_key=True))
    status: str = Field(sa_column=Column(String(16), primary_key=True))  # "" for none
    level: str = Field(sa_column=Column(String(32), primary_key=True))  # "" but for escalations
    year: int = Field(sa_column=Column(Integer, primary_key=True))  # 0 but for escalations
    article: int = Field(sa_column=Column(Integer, primary_key=True))  # the row's (escalations: behind it)
    day: int = Field(sa_column=Column(BigInteger, primary_key=True))  # instant // DAY
    n: int = Field(sa_column=Column(BigInteger, nullable=False))


def _table(model: type[SQLModel]) -> Table:
    return model.__table__  # type: ignore[attr-defined]


OBLIGATIONS, VIOLATIONS, ESCALATIONS = _table(KeptObligation), _table(KeptViolation), _table(KeptEscalation)
VETOES, REJECTIONS = _table(KeptVeto), _table(KeptRejection)
COUNTS = _table(KeptCount)
KEPT_TABLES = [OBLIGATIONS, VIOLATIONS, ESCALATIONS, VETOES, REJECTIONS]  # rows of a partition (`part`)
DERIVED_TABLES = [*KEPT_TABLES, COUNTS]  # everything derived from the events
