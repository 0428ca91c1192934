"""Record linkage: finding one person recorded twice. This package holds the pure name layer for now.

Nothing here needs Django: it imports and runs on its own (the reference data is read from ``linkage/data/``).

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
