"""Record linkage: finding one person recorded twice.

- the name layer (``names``, ``hangul``, ``latin``, ``keys``): normalised keys of Korean names in any script; pure,
  no Django (the reference data is read from ``linkage/data/``);
- ``matching``: the Fellegi-Sunter model (Splink on DuckDB) over those keys, or their blind-index digests, and the
  coded fields; candidate pairs with a score and the reasons; no Django either;
- ``people_file`` and ``live``: the two modes of ``waystation dedup`` (a CSV file; the live records, from digests);
- ``korean_set``: a generated evaluation set with ground truth (``bench/linkage.py``).

    >>> from waystation.linkage import name_keys
    >>> bool(name_keys("Ri Myong Hui") & name_keys("이명희") & name_keys("李明姬"))
    True
"""

from .hangul import SYSTEMS, System, initial_sound_law, romanize
from .names import (
    NameReading,
    hangul_candidates,
    name_keys,
    name_readings,
    romanize_name,
    surname_cluster,
    surname_clusters,
)

__all__ = [
    "SYSTEMS",
    "NameReading",
    "System",
    "hangul_candidates",
    "initial_sound_law",
    "name_keys",
    "name_readings",
    "romanize",
    "romanize_name",
    "surname_cluster",
    "surname_clusters",
]
