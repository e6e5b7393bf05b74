"""Deterministic synthetic event streams in the SPEC vocabulary, with storylines.

    python bench/generate.py --events 1000000 --seed 7 > events.jsonl

Each subject gets a storyline: a trigger, usually its fulfilment (sometimes late, sometimes
never), sometimes a blocking act first; unit-level duties are filed for every unit, some late.
"""
from __future__ import annotations

import argparse
import json
import random
import sys
from datetime import datetime, timedelta, timezone

ZONE = timezone(timedelta(hours=8))
START = datetime(2022, 6, 1, tzinfo=ZONE)
UNITS = ["propaganda", "political_legal", "gov_office", "youth_care", "court", "procuratorate", "development_reform",
         "industry_it", "education", "public_security", "civil_affairs", "justice", "finance", "human_resources",
         "agriculture_water", "commerce", "culture_tourism", "health", "state_assets", "market_regulation",
         "trade_union", "youth_league", "women_federation", "disabled_federation"]

# (trigger type, trigger data, trigger unit, fulfil type, fulfil data, fulfil unit, typical delay hours, blocker)
STORIES = [
    ("household_registration.requested", {"age": 3, "origin": "unknown"}, "public_security",
     "dna.compared", {"matched": False}, "public_security", 72, "household_registration.approved"),
    ("child.missing_reported", {"age": 6}, "public_security", "tuanyuan.alert_published", {}, "public_security", 12, None),
    ("victim.rescued", {"age": 9, "guardian_identified": True}, "public_security",
     "child.returned_to_parents", {}, "public_security", 100, None),
    ("suspicion.observed", {"observer_role": "teacher"}, "education", "suspicion.reported", {}, "education", 10, None),
    ("student.dropped_out", {"stage": "compulsory"}, "education", "student.dropout_followed_up", {}, "education", 200, None),
    ("maternity.admitted", {"identity_verified": False}, "health",
     "identity.verified", {"check": "identity"}, "health", 6, "birth_certificate.issued"),
    ("case.opened", {"kind": "child_trafficking"}, "public_security",
     "case.task_force_formed", {"leader_rank": "county_bureau_head"}, "public_security", 40, None),
    ("legal_aid.applied", {"victim": True}, "justice", "legal_aid.decided", {"granted": True}, "justice", 48, None),
    ("labor_case.opened", {}, "human_resources", "labor_case.closed", {}, "human_resources", 500, None),
]
# data of a blocking act, where it has required fields
BLOCKER_DATA = {"birth_certificate.issued": {"birth_verified": True}}


def stamp(t: datetime) -> str:
    return t.isoformat(timespec="seconds")


def generate(n_events: int, seed: int):
    rng = random.Random(seed)
    produced = 0
    serial = 0
    # unit-level duties first: about 1% of the stream
    for year in (2022, 2023):
        for unit in UNITS:
            for type_ in ("unit.campaign_reported", "unit.self_inspection_completed"):
                if rng.random() < 0.85 and produced < n_events:
                    serial += 1
                    produced += 1
                    when = datetime(year, 3 if "campaign" in type_ else 12, 1, tzinfo=ZONE) + timedelta(days=rng.randint(0, 60))
                    yield {"id": f"u{serial}", "type": type_, "occurred_at": stamp(when), "unit": unit, "data": {"year": year}}
    subject = 0
    while produced < n_events:
        subject += 1
        story = rng.choice(STORIES)
        t0 = START + timedelta(minutes=rng.randint(0, 60 * 24 * 540))
        events = [(story[0], story[1], story[2], t0)]
        roll = rng.random()
        if story[7] and roll < 0.1:
            events.append((story[7], BLOCKER_DATA.get(story[7], {}), story[2], t0 + timedelta(hours=rng.randint(1, 30))))
        if roll < 0.9:
            delay = story[6] * (rng.random() * 2.5)
            events.append((story[3], story[4], story[5], t0 + timedelta(hours=delay)))
        for type_, data, unit, when in events:
            if produced >= n_events:
                break
            serial += 1
            produced += 1
            yield {"id": f"e{serial}", "type": type_, "occurred_at": stamp(when), "unit": unit,
                   "subject": f"s{subject}", "data": data}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    out = sys.stdout
    for event in generate(args.events, args.seed):
        out.write(json.dumps(event, separators=(",", ":")) + "\n")


if __name__ == "__main__":
    main()
