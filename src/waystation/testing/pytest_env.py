"""Loaded by pytest before Django starts (``-p waystation.testing.pytest_env``): the tests get their own data
folder and plain HTTP, whatever the caller's environment says."""

import os
import tempfile

if not os.environ.get("WAYSTATION_TEST_HOME"):
    os.environ["WAYSTATION_TEST_HOME"] = tempfile.mkdtemp(prefix="waystation-test-")
os.environ["WAYSTATION_HOME"] = os.environ["WAYSTATION_TEST_HOME"]
os.environ["WAYSTATION_DEV_HTTP"] = "1"
os.environ.setdefault("WAYSTATION_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")
