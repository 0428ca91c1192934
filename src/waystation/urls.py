from django.urls import include, path
from django.views.i18n import set_language

from waystation.web.views import quick_exit

urlpatterns = [
    path("accounts/", include("waystation.accounts.urls")),
    path("accounts/passkeys/", include("waystation.accounts.passkeys")),
    path("accounts/tokens/", include("waystation.api.pages")),
    path("i18n/setlang/", set_language, name="set_language"),
    path("exit/", quick_exit, name="quick_exit"),
    path("", include("waystation.web.urls")),
    path("cases/", include("waystation.cases.urls")),
    path("stations/", include("waystation.network.urls")),
    path("audit/", include("waystation.audit.urls")),
    path("vault/", include("waystation.vault.urls")),
    path("import/", include("waystation.intake.urls")),
    path("duplicates/", include("waystation.linkage.urls")),
    path("sync/", include("waystation.sync.urls")),
    path("sync/conflicts/", include("waystation.sync.changes.urls")),
    path("api/v1/", include("waystation.api.urls")),
]

handler400 = "waystation.web.views.bad_request"
handler403 = "waystation.web.views.permission_denied"
handler404 = "waystation.web.views.page_not_found"
handler500 = "waystation.web.views.server_error"
