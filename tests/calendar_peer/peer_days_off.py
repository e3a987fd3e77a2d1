"""Prints the peer's days off of Kazakhstan (the `holidays` package, country KZ), one ISO
date a line, for the years given as arguments: its public holidays, the ones it moves off a
weekend, and its substituted days off. The package knows no worked weekends (transfers), so
tests/calendar_peer.rs takes every other weekday as a working day and every weekend as off.
"""

import sys

import holidays

for year in map(int, sys.argv[1:]):
    for day in sorted(holidays.KZ(years=year)):
        print(day.isoformat())
