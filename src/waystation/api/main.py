"""The JSON API at /api/v1/: one NinjaAPI, its routers, the token authentication, the rate limit and the errors.

Deny by default: the API's own ``auth`` refuses every request, so each operation must name its scope
(``auth=Token(Scope.X)``). The schema is served at /api/v1/openapi.json; there is no interactive docs page (it
would load scripts from a third party, which the content security policy forbids).
"""

from __future__ import annotations

from ninja import NinjaAPI

from waystation.api import cases, errors, figures, network
from waystation.api.auth import Token, TokenRateThrottle, with_token_keys

api = NinjaAPI(
    title="Waystation API",
    version="1",
    description="Cases, movements, services, stations and figures releases, with a bearer token whose scopes "
    "follow its owner's role.",
    auth=Token(None),
    throttle=[TokenRateThrottle()],
    urls_namespace="api",
    docs_url=None,
)
errors.install(api)
api.add_decorator(with_token_keys)
api.add_router("/cases/", cases.router)
api.add_router("/cases/", network.router)
api.add_router("/stations/", network.stations_router)
api.add_router("/figures/", figures.router)
