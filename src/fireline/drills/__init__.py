"""Fire drills: rehearse an incident through the gateway's fault injection on a drill cohort."""
