"""Test settings with feature apps left out: THINGSTEAD_WITHOUT=tags,ingest (comma-separated).

The architecture test (tests/test_architecture.py) runs the core's tests under it, to prove that twins, owners and
core work with any feature app removed from INSTALLED_APPS (its routes go with it: config/urls.py).
"""

import os

from config.settings_test import *  # noqa: F403

# The features built on others (README "Architecture"): leaving a feature out leaves out what stands on it.
DEPENDENTS = {
    "tags": {"makers"},
    "didcomm": {"sharing", "makers"},
    "credentials": {"makers"},
    "sharing": {"makers"},
    "makers": {"bulk", "firmware", "support"},
    "bulk": {"fleets", "handover"},
    "fleets": {"imports"},
}
WITHOUT = {name.strip() for name in os.environ.get("THINGSTEAD_WITHOUT", "").split(",") if name.strip()}
while missing := {dependent for name in WITHOUT for dependent in DEPENDENTS.get(name, ())} - WITHOUT:
    WITHOUT |= missing  # what stands on a left-out feature goes too, and what stands on that
INSTALLED_APPS = [app for app in INSTALLED_APPS if app not in WITHOUT]  # noqa: F405
# A left-out app's middleware goes with it (the finder's shortcut is tags').
MIDDLEWARE = [path for path in MIDDLEWARE if path.split(".")[0] not in WITHOUT]  # noqa: F405
# The schema's enum names of a left-out app's models cannot be imported.
SPECTACULAR_SETTINGS = {
    **SPECTACULAR_SETTINGS,  # noqa: F405
    "ENUM_NAME_OVERRIDES": {
        name: path
        for name, path in SPECTACULAR_SETTINGS.get("ENUM_NAME_OVERRIDES", {}).items()  # noqa: F405
        if path.split(".")[0] not in WITHOUT
    },
}
