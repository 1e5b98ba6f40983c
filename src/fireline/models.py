"""Imports every part's tables so metadata-wide tools (migrations, tests) see them all."""

from fireline.auth import models as auth_models
from fireline.calls import models as calls_models
from fireline.comms import models as comms_models
from fireline.controls import models as controls_models
from fireline.detect import models as detect_models
from fireline.evals import models as evals_models
from fireline.incidents import models as incidents_models
from fireline.ingest import models as ingest_models
from fireline.investigate import models as investigate_models
from fireline.postmortems import models as postmortems_models

__all__ = ["auth_models", "calls_models", "comms_models", "controls_models", "detect_models", "evals_models",
           "incidents_models", "ingest_models", "investigate_models", "postmortems_models"]
