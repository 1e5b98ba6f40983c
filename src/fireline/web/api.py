"""Serves the console at `/`. It holds no data of its own: the page calls the API with a key."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse

STATIC = Path(__file__).parent / "static"
SCRIPTS = ("core.js", "charts.js", "incidents.js", "incident.js", "incident_more.js", "monitors.js", "calls.js",
           "controls.js", "drills.js", "uPlot.iife.min.js")
# uPlot 1.6.32 (MIT, uPlot.LICENSE.txt), vendored from its npm package: no CDN, no build step.
ASSETS = {**{name: "text/javascript" for name in SCRIPTS}, "app.css": "text/css", "uPlot.min.css": "text/css",
          "uPlot.LICENSE.txt": "text/plain"}
# Data goes into the page as text only; scripts come from this server only, never inline.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; object-src 'none'; "
       "base-uri 'none'; frame-ancestors 'none'; form-action 'self'")
router = APIRouter(include_in_schema=False)


@router.get("/")
def console() -> FileResponse:
    return FileResponse(STATIC / "index.html", media_type="text/html",
                        headers={"Cache-Control": "no-cache", "X-Frame-Options": "DENY",
                                 "Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff"})


@router.get("/console/{asset}")
def console_asset(asset: str) -> FileResponse:
    if asset not in ASSETS:
        raise HTTPException(404, f"no console asset {asset}")
    return FileResponse(STATIC / asset, media_type=ASSETS[asset],
                        headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"})
