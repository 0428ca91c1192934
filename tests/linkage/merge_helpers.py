"""The fictional woman of the merge tests (tests/linkage and tests/browser/test_merge_browser.py)."""

import datetime as dt

TWICE = {"sex": "F", "birth_year": 1988, "origin_province": "ryanggang", "left_nk_month": dt.date(2012, 4, 1)}
# Synthetic records (a common name, no real person): one woman in Hangul, South Korean and McCune-Reischauer spelling.
NAMES = ("박지연", "Park Ji-yeon", "Pak Chi-yŏn")
