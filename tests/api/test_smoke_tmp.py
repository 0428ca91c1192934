def test_smoke(world, api_client):
    from waystation.audit.models import AuditEvent
    r = api_client(world.analyst).get("/api/v1/figures/releases/latest")
    print(r.status_code, r.content[:300])
    print(list(AuditEvent.objects.filter(action__startswith="api").values_list("action", "details")))
    assert 0
