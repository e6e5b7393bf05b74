"""A synthetic province for `oblige audit` at scale: N member units, one row per unit and year.

    python bench/province.py --rows 20000 --out /tmp/province   # writes units.yaml and records.csv
    oblige audit /tmp/province/records.csv --units /tmp/province/units.yaml --as-of 2031-01-01 --format json
"""
from __future__ import annotations

import argparse
import csv
import random
from datetime import date, timedelta
from pathlib import Path

YEARS = list(range(2022, 2031))
# what every member unit may report about itself (SPEC §2.1); the committee and the police are
# members too, so that enforcement-failure findings and situation analyses have their reporters
DATED = ["self_inspection_completed", "campaign_reported"]
POLICE_DATED = ["situation_analysis_q1", "situation_analysis_q2", "situation_analysis_q3", "situation_analysis_q4"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    n_units = -(-args.rows // len(YEARS))
    codes = ["political_legal", "public_security"] + [f"unit_{i:05d}" for i in range(n_units - 2)]
    with (args.out / "units.yaml").open("w", encoding="utf-8") as f:
        f.write("members:\n")
        for code in codes:
            f.write(f"  - {{code: {code}, name_zh: 单位{code[-5:]}, name_en: Unit {code[-5:]}}}\n")
    written = 0
    with (args.out / "records.csv").open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["unit", "year", "liaison_designated", "implementation_plan_filed", *DATED, *POLICE_DATED,
                         "enforcement_failure"])
        for code in codes:
            for year in YEARS:
                if written >= args.rows:
                    break
                row = [code, year, "2022-06-01" if year == 2022 and rng.random() < 0.9 else "",
                       "2022-07-15" if year == 2022 and rng.random() < 0.9 else ""]
                for column in DATED + POLICE_DATED:
                    if column in POLICE_DATED and code != "public_security":
                        row.append("")
                        continue
                    due = date(year, 12, 31)
                    roll = rng.random()
                    row.append("" if roll < 0.1 else (due - timedelta(days=rng.randint(0, 60)) if roll < 0.8 else
                                                      due + timedelta(days=rng.randint(1, 90))).isoformat())
                row.append("duties_unperformed" if rng.random() < 0.01 and code != "political_legal" else "")
                writer.writerow(row)
                written += 1


if __name__ == "__main__":
    main()
