"""The web server's worker loads only what serving pages needs (issue 7: under 300 MB resident per worker).

OpenDP's ``prelude`` brings numpy, scikit-learn, pandas, polars and pyarrow (about 150 MB resident); openpyxl's
package its whole workbook machinery; qrcode brings Pillow. None of them is needed to serve a page: the figures use
OpenDP's measurements directly, a spreadsheet is opened with openpyxl only when one is uploaded, a QR code is drawn
only when asked for. This checks that in a fresh process, as gunicorn's worker starts.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

HEAVY = (
    "pandas",
    "pyarrow",
    "sklearn",
    "scipy",
    "polars",
    "openpyxl",
    "PIL",
    "qrcode",
    "splink",
    "duckdb",
    "weasyprint",
)

PROBE = """
import json, sys
from waystation.wsgi import application
from django.urls import get_resolver
get_resolver().url_patterns  # every view module, as the first request loads them
status = open('/proc/self/status').read().split('VmRSS:')[1].split()[0]
print(json.dumps({"loaded": sorted(m for m in sys.modules if m.split('.')[0] in %r), "rss_kb": int(status)}))
"""


def test_a_worker_starts_without_the_heavy_libraries(tmp_path: Path) -> None:
    env = os.environ | {"WAYSTATION_HOME": str(tmp_path), "WAYSTATION_DEV_HTTP": "1"}
    env.pop("DATABASE_URL", None)
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-c", PROBE % (HEAVY,)], capture_output=True, text=True, env=env, timeout=120, check=True
    )
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert {name.split(".")[0] for name in found["loaded"]} == set(), found["loaded"][:20]
    # Django, the apps, OpenDP's core and numpy: about 110 MB here; with OpenDP's prelude it was 270 MB.
    assert found["rss_kb"] < 180 * 1024, found["rss_kb"]
