"""Rule 2 by structure: every way out for member data writes an entry first, and gives
nothing when the log cannot be written.

Every root field of the schema is classified here. A field whose answer can carry a
member's personal values (its type reaches a member attribute) must be listed in
``READS`` with a case that runs it through the real HTTP app; the test then proves the
call adds one entry naming the member, by the caller, and that with the log table gone the
same call answers ``ACCESS_LOG_UNAVAILABLE`` and no value. The HTTP routes that return
member data (the audience stream and the export download) are proved the same way, and so
are the privacy centre's pages that show member values (``PAGES``) and the officer
console's views of one member's records (``CONSOLE_PAGES``); every other page is shown,
as its reader sees it, to carry none of the member's values.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import graphql
import pytest
import sqlalchemy as sa
from starlette.routing import Mount, Route
from starlette.testclient import TestClient

from export import archive
from export.models import ExportArchive
from membervault.services import Services
from schema.names import GRAPHQL_NAME
from schema.schema import build_schema
from subject_requests import access
from subject_requests.lifecycle import receive
from tests.audit.support import entries
from tests.conftest import JANE, Api, client_token, create_principal, register
from tests.membervault.console.support import Officer
from tests.membervault.web.support import Visitor, profile_form
from vaultkernel.clock import utcnow
from vaultkernel.settings import Settings

SCHEMA = build_schema(Settings())._schema
PERSONAL = set(GRAPHQL_NAME.values()) - {"memberNumber"}


def reaches_member_values(type_: Any, seen: set[str] | None = None) -> bool:
    seen = set() if seen is None else seen
    named = graphql.get_named_type(type_)
    if not isinstance(named, graphql.GraphQLObjectType) or named.name in seen:
        return False
    seen.add(named.name)
    return bool(PERSONAL & set(named.fields)) or any(
        reaches_member_values(f.type, seen) for f in named.fields.values())


def root_fields() -> dict[str, Any]:
    assert SCHEMA.query_type is not None and SCHEMA.mutation_type is not None
    return {**SCHEMA.query_type.fields, **SCHEMA.mutation_type.fields}


@dataclass
class World:
    services: Services
    http: TestClient
    jane: dict[str, Any]
    jane_api: Api
    loyalty_api: Api
    admin_api: Api
    collector_api: Api

    def api(self, name: str) -> Api:
        return getattr(self, f"{name}_api")  # type: ignore[no-any-return]


@dataclass(frozen=True)
class Case:
    caller: str  # which World api calls
    principal: str  # who the entry must name as the reader
    document: str
    variables: Callable[[World], dict[str, Any]]


NUMBER: Callable[[World], dict[str, Any]] = lambda w: {"number": w.jane["memberNumber"]}  # noqa: E731

READS: dict[str, Case] = {
    "me": Case("jane", "member", "{ me { email givenName } }", lambda w: {}),
    "member": Case("admin", "admin:ops-admin",
                   """query($number: String!) { member(memberNumber: $number,
                      reason: "Checking a complaint about points") { email } }""", NUMBER),
    "memberData": Case("loyalty", "client:loyalty-engine",
                       """query($number: String!) { memberData(purpose: "loyalty.membership",
                          memberNumber: $number) { email } }""", NUMBER),
    "audience": Case("loyalty", "client:loyalty-engine",
                     """{ audience(purpose: "loyalty.membership", first: 10) {
                        items { email } } }""", lambda w: {}),
    "consentCheck": Case("loyalty", "client:loyalty-engine",
                         """query($number: String!) { consentCheck(purpose: "loyalty.membership",
                            memberNumbers: [$number, $number]) { permitted } }""", NUMBER),
    "registerMember": Case("loyalty", "client:loyalty-engine",
                           """mutation($input: RegisterMemberInput!) { registerMember(
                              input: $input) { memberData { email } errors { code } } }""",
                           lambda w: {"input": {**JANE, "email": "new@example.org",
                                                "phone": "07400 999111"}}),
    "updateMyProfile": Case("jane", "member",
                            """mutation { updateMyProfile(input: {givenName: "Jan"}) {
                               member { givenName email } errors { code } } }""", lambda w: {}),
    "recordMemberConsent": Case("collector", "client:till-app",
                                """mutation($number: String!) { recordMemberConsent(input: {
                                   memberNumber: $number, purpose: "marketing.email",
                                   granted: false}) { errors { code } } }""", NUMBER),
}
CONSENT_READS = {"consentCheck", "recordMemberConsent"}
# Root fields whose answers carry no personal value of a member, though their types may
# (the consent state of a purpose is not an attribute value; these return none).
NO_MEMBER_VALUES = {name for name, f in root_fields().items()
                    if not reaches_member_values(f.type)}


@pytest.fixture
def world(services: Services, http: TestClient, jane: dict[str, Any], jane_api: Api,
          loyalty_api: Api) -> World:
    admin = Api(http, client_token(http, "ops-admin",
                                   create_principal(services, "ops-admin", "admin")))
    collector = Api(http, client_token(http, "till-app", create_principal(
        services, "till-app", purposes=("marketing.email",), collects_consent=True)))
    return World(services, http, jane, jane_api, loyalty_api, admin, collector)


@pytest.fixture
def log_table_gone(services: Services) -> Iterator[Callable[[], None]]:
    renamed = []

    def away() -> None:
        with services.db.engine.begin() as connection:
            connection.execute(sa.text("ALTER TABLE access_log RENAME TO access_log_away"))
        renamed.append(True)

    yield away
    if renamed:
        with services.db.engine.begin() as connection:
            connection.execute(sa.text("ALTER TABLE access_log_away RENAME TO access_log"))


# Root fields answering a bare scalar: no type to look into, so each is named here.
SCALAR_ANSWERS = {
    "recordOfProcessing": "the record of processing activities (Art. 30): no member's data",
    "recordActivity": "how many members' activity was recorded: a count",
}


def test_every_root_field_is_classified() -> None:
    scalar = {name for name, f in root_fields().items()
              if not isinstance(graphql.get_named_type(f.type), graphql.GraphQLObjectType)}
    assert scalar == set(SCALAR_ANSWERS), "a root field answers a scalar: say what it holds"
    fields = set(root_fields())
    answering = fields - NO_MEMBER_VALUES
    assert answering - set(READS) == set(), "a root field returns member values untested"
    assert set(READS) - fields == set(), "a case names a field the schema lacks"
    # these answer a member's consent state for a purpose (not attribute values): a read
    assert answering | CONSENT_READS == set(READS)


def reader(world: World, case: Case) -> str:
    return f"member:{world.jane['id']}" if case.principal == "member" else case.principal


@pytest.mark.parametrize("field", sorted(READS))
def test_the_read_is_one_entry_written_before_the_answer(world: World, field: str) -> None:
    case = READS[field]
    before = len(entries(world.services))
    result = world.api(case.caller).graphql(case.document, case.variables(world))
    assert "errors" not in result, result
    payload = result["data"][field]
    assert not (isinstance(payload, dict) and payload.get("errors")), payload
    after = entries(world.services)
    assert len(after) == before + 1
    assert after[-1].principal == reader(world, case)
    assert after[-1].members == 1  # one member, however often named


@pytest.mark.parametrize("field", sorted(READS))
def test_no_log_no_answer(world: World, field: str,
                          log_table_gone: Callable[[], None]) -> None:
    case = READS[field]
    variables = case.variables(world)
    log_table_gone()
    result = world.api(case.caller).graphql(case.document, variables)
    text = str(result)
    assert "ACCESS_LOG_UNAVAILABLE" in text, result
    for value in (world.jane["email"], "new@example.org", world.jane["givenName"]):
        assert value not in text


def exported(world: World) -> str:
    """Jane's export, built; returns its download path."""
    services = world.services
    with services.db.unit_of_work() as uow:
        receive(uow.session, uuid.UUID(world.jane["id"]), "access", jurisdiction="GDPR",
                actor="member:test", identity_verification="signed in", now=utcnow())
        uow.commit()
    assert access.build_pending_exports(services.db, services.exports, now=utcnow()) == 1
    with services.db.unit_of_work() as uow:
        row = uow.session.scalars(sa.select(ExportArchive)).one()
        url = archive.download_url(uow.session, services.exports, row, now=utcnow())
    assert url is not None
    return url[len(services.settings.issuer):]


ROUTES: dict[str, Callable[[World], tuple[str, str]]] = {
    "/audience/{purpose}.ndjson": lambda w: ("/audience/loyalty.membership.ndjson",
                                             str(w.loyalty_api.token)),
    "/exports/{token}": lambda w: (exported(w), str(w.jane_api.token)),
}


# Every other route of the app, and why it returns no member's values. The privacy
# centre and the console are mounts whose pages are classified below (PAGES,
# CONSOLE_PAGES, and the pages shown to carry none).
NO_MEMBER_DATA_ROUTES = {
    "/": "the landing page",
    "/graphql": "GraphQL: every root field is classified above (READS)",
    "/graphiql": "the GraphiQL page's own assets",
    "/oauth/token": "a client's access token",
    "/auth/member/code": "sends a sign-in code; answers the same for anyone",
    "/auth/member/token": "a member's access token",
    "/.well-known/jwks.json": "the service's public keys",
    "/.well-known/gpc.json": "the Global Privacy Control statement",
    "/policy": "the processing policy",
    "/policy.json": "the processing policy",
    "/healthz": "liveness",
    "/readyz": "readiness",
    "/metrics": "counts, never values",
    "/exports/{token}/signature": "the archive's detached signature, no content",
    "/privacy": "the privacy centre: its pages are classified below",
    "/console": "the officer console: its pages are classified below",
}


def test_every_route_is_classified(app: Any) -> None:
    """A route added to the app fails here until it is proved to log (ROUTES) or said to
    return no member's values."""
    paths = {getattr(r, "path", "") for r in app.routes}
    assert set(ROUTES) | set(NO_MEMBER_DATA_ROUTES) == paths
    assert not set(ROUTES) & set(NO_MEMBER_DATA_ROUTES)


@pytest.mark.parametrize("route", sorted(ROUTES))
def test_a_route_logs_before_it_answers(world: World, route: str) -> None:
    path, token = ROUTES[route](world)
    before = len(entries(world.services))
    response = world.http.get(path, headers={"authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    assert len(entries(world.services)) == before + 1


@pytest.mark.parametrize("route", sorted(ROUTES))
def test_a_route_gives_nothing_without_the_log(world: World, route: str,
                                               log_table_gone: Callable[[], None]) -> None:
    path, token = ROUTES[route](world)
    log_table_gone()
    response = world.http.get(path, headers={"authorization": f"Bearer {token}"})
    assert response.status_code == 503, response.text
    assert "ACCESS_LOG_UNAVAILABLE" in response.text
    assert world.jane["email"] not in response.text


def test_fields_skipped_by_directives_are_not_logged_as_returned(world: World) -> None:
    result = world.jane_api.graphql(
        "query($no: Boolean!) { me { email @skip(if: $no) givenName phone @include(if: false) "
        "... on MemberProfile @skip(if: true) { familyName } } }", {"no": True})
    assert result["data"]["me"] == {"givenName": world.jane["givenName"]}
    last = entries(world.services)[-1]
    assert '"given_name"' in last.reads
    for skipped in ("email", "phone", "family_name"):
        assert f'"{skipped}"' not in last.reads


def test_a_register_answer_is_logged_under_the_membership_purpose(world: World) -> None:
    payload = register(world.loyalty_api, email="reg@example.org", phone="07400 999222")
    assert payload["errors"] == []
    assert entries(world.services)[-1].purpose == "loyalty.membership"


# -- the privacy centre's pages --------------------------------------------------------


@pytest.fixture
def jane_web(world: World, app: Any, settings: Settings) -> Iterator[Visitor]:
    from pathlib import Path

    visitor = Visitor(app)
    visitor.follow(visitor.sign_in(world.jane["email"], Path(settings.mailbox_file)))
    yield visitor
    visitor.close()


def web_export(world: World) -> str:
    """Jane's export, built; the privacy centre's download path of it."""
    exported(world)
    with world.services.db.unit_of_work() as uow:
        row = uow.session.scalars(sa.select(ExportArchive)).one()
    return f"/privacy/requests/{row.request_id}/export"


PAGES: dict[tuple[str, str], Callable[[World, Visitor], Any]] = {
    ("GET", "/privacy/profile"): lambda w, v: v.get("/privacy/profile"),
    ("GET", "/privacy/profile/edit"): lambda w, v: v.get("/privacy/profile/edit"),
    ("POST", "/privacy/profile"): lambda w, v: v.post("/privacy/profile",
                                                      profile_form(given_name="Jan")),
    ("GET", "/privacy/requests/{request_id}/export"): lambda w, v: v.get(web_export(w)),
}


def privacy_centre_routes(app: Any) -> set[tuple[str, str]]:
    mount = next(r for r in app.routes if isinstance(r, Mount) and r.path == "/privacy")
    return {(method, "/privacy" + r.path) for r in mount.routes if isinstance(r, Route)
            for method in r.methods or () if method != "HEAD"}


def test_every_page_is_classified(app: Any) -> None:
    assert set(PAGES) <= privacy_centre_routes(app)


@pytest.mark.parametrize("page", sorted(PAGES))
def test_a_page_logs_before_it_shows(world: World, jane_web: Visitor,
                                     page: tuple[str, str]) -> None:
    prepare = PAGES[page]
    before = len(entries(world.services))
    response = prepare(world, jane_web)
    assert response.status_code == 200, response.text
    after = entries(world.services)
    assert len(after) == before + 1
    assert after[-1].principal == f"member:{world.jane['id']}" and after[-1].members == 1


@pytest.mark.parametrize("page", sorted(PAGES))
def test_a_page_shows_nothing_without_the_log(world: World, jane_web: Visitor,
                                              page: tuple[str, str],
                                              log_table_gone: Callable[[], None]) -> None:
    prepare = PAGES[page]
    if page[1].endswith("/export"):
        path = web_export(world)
        prepare = lambda w, v: v.get(path)  # noqa: E731  (built before the log is gone)
    log_table_gone()
    response = prepare(world, jane_web)
    assert response.status_code == 503, response.text
    assert "we cannot record this one now, so we show nothing" in response.text
    for value in (world.jane["email"], world.jane["givenName"], "Rosewood", "Quasimodo"):
        assert value not in response.text


def test_every_other_page_shows_no_member_value(world: World, jane_web: Visitor,
                                                app: Any) -> None:
    """What a member sees on the pages not in PAGES, with consents, reads, requests and
    receipts to show: none of their values, so none of these needs an entry."""
    world.loyalty_api.graphql("""query($number: String!) { memberData(
        purpose: "loyalty.membership", memberNumber: $number) { email } }""", NUMBER(world))
    jane_web.post("/privacy/consents", {"action": "grant", "purpose": "marketing.sms",
                                        "notice_version": "1"})
    jane_web.post("/privacy/requests", {"type": "restriction"})
    receipt = jane_web.get("/privacy/receipts").text.split('href="/privacy/receipts/')[1][:36]
    samples = {"{receipt_id}": receipt}
    shown = 0
    for method, path in sorted(privacy_centre_routes(app) - set(PAGES)):
        if method != "GET":
            continue
        for placeholder, value in samples.items():
            path = path.replace(placeholder, value)
        response = jane_web.get(path)
        assert response.status_code in (200, 303), (path, response.text)  # / leads on
        for value in (world.jane["email"], world.jane["givenName"], "Rosewood",
                      "Quasimodo", world.jane["memberNumber"]):
            assert value not in response.text, path
        shown += 1
    assert shown >= 8


# -- the officer console's pages --------------------------------------------------------


@pytest.fixture
def dpo_web(world: World, app: Any) -> Iterator[Officer]:
    """The DPO office signed in to the console, Jane with a consent, a hold and a request."""
    secret = create_principal(world.services, "dpo-office", "officer")
    officer = Officer(app)
    officer.follow(officer.sign_in("dpo-office", secret))
    world.jane_api.graphql("""mutation { grantConsent(purpose: "marketing.email",
        noticeVersion: 1) { errors { code } } }""")
    yield officer
    officer.close()


def _receipt(w: World, o: Officer) -> Any:
    history = o.get(f"/console/members/{w.jane['id']}/consents").text
    receipt = history.split('href="/console/receipts/')[1][:36]
    return lambda: o.get(f"/console/receipts/{receipt}")


CONSOLE_PAGES: dict[tuple[str, str], Callable[[World, Officer], Callable[[], Any]]] = {
    ("GET", "/console/members/{member_id}/consents"):
        lambda w, o: lambda: o.get(f"/console/members/{w.jane['id']}/consents"),
    ("GET", "/console/receipts/{receipt_id}"): _receipt,
    ("GET", "/console/members/{member_id}/holds"):
        lambda w, o: lambda: o.get(f"/console/members/{w.jane['id']}/holds"),
}


def console_routes(app: Any) -> set[tuple[str, str]]:
    mount = next(r for r in app.routes if isinstance(r, Mount) and r.path == "/console")
    return {(method, "/console" + r.path) for r in mount.routes if isinstance(r, Route)
            for method in r.methods or () if method != "HEAD"}


def test_every_console_page_is_classified(app: Any) -> None:
    """The console's views of one member's records are in CONSOLE_PAGES; the other GET
    pages are shown below to carry no member value; its POSTs change and redirect."""
    assert set(CONSOLE_PAGES) <= console_routes(app)
    member_paths = {p for m, p in console_routes(app) if m == "GET"
                    and ("{member_id}" in p or "{receipt_id}" in p)}
    assert member_paths == {p for _, p in CONSOLE_PAGES}


@pytest.mark.parametrize("page", sorted(CONSOLE_PAGES))
def test_a_console_page_logs_before_it_shows(world: World, dpo_web: Officer,
                                             page: tuple[str, str]) -> None:
    show = CONSOLE_PAGES[page](world, dpo_web)
    before = len(entries(world.services))
    response = show()
    assert response.status_code == 200, response.text
    after = entries(world.services)
    assert len(after) == before + 1
    assert after[-1].principal == "officer:dpo-office" and after[-1].members == 1
    assert after[-1].purpose == "compliance"


@pytest.mark.parametrize("page", sorted(CONSOLE_PAGES))
def test_a_console_page_shows_nothing_without_the_log(world: World, dpo_web: Officer,
                                                      page: tuple[str, str],
                                                      log_table_gone: Callable[[], None]
                                                      ) -> None:
    show = CONSOLE_PAGES[page](world, dpo_web)
    log_table_gone()
    response = show()
    assert response.status_code == 503, response.text
    assert "cannot be written now, so nothing is shown" in response.text
    assert "marketing.email" not in response.text and "<pre" not in response.text


def test_every_other_console_page_shows_no_member_value(world: World, dpo_web: Officer,
                                                        app: Any) -> None:
    """What an officer sees on the console's other pages, with Jane's reads, request,
    hold and deliveries to show: internal ids, never one of her values."""
    world.loyalty_api.graphql("""query($number: String!) { memberData(
        purpose: "loyalty.membership", memberNumber: $number) { email } }""", NUMBER(world))
    with world.services.db.unit_of_work() as uow:
        request = receive(uow.session, uuid.UUID(world.jane["id"]), "erasure",
                          jurisdiction="GDPR", actor="member:test",
                          identity_verification="signed in", now=utcnow())
        uow.commit()
        request_id = request.id
    dpo_web.post(f"/console/members/{world.jane['id']}/holds", {"reason": "Case 7"})
    samples = {"{request_id}": str(request_id), "{member_id}": world.jane["id"]}
    shown = 0
    for method, path in sorted(console_routes(app) - set(CONSOLE_PAGES)):
        if method != "GET":
            continue
        for placeholder, value in samples.items():
            path = path.replace(placeholder, value)
        response = dpo_web.get(path)
        assert response.status_code in (200, 303), (path, response.text)
        for value in (world.jane["email"], world.jane["givenName"], "Rosewood",
                      "Quasimodo", world.jane["memberNumber"]):
            assert value not in response.text, path
        shown += 1
    assert shown >= 10
