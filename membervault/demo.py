"""Demo data for ``make run``: the policy's demo clients, an officer, an admin, the demo
member to sign in to the privacy centre as (:data:`DEMO_EMAIL`) and a few hundred
synthetic members. Re-running keeps what exists and only fills gaps.
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import func, select

from identity import clients, members
from identity.errors import IdentityError
from identity.models import Client, Member
from membervault.services import Services
from vaultkernel.database import UnitOfWork

GIVEN = ["Ada", "Grace", "Alan", "Katherine", "Linus", "Margaret", "Tim", "Barbara", "Dennis",
         "Frances", "Ken", "Radia", "Edsger", "Hedy", "Donald", "Sophie", "Niklaus", "Joan"]
FAMILY = ["Lovelace", "Hopper", "Turing", "Johnson", "Torvalds", "Hamilton", "Berners-Lee",
          "Liskov", "Ritchie", "Allen", "Thompson", "Perlman", "Dijkstra", "Lamarr", "Knuth",
          "Wilson", "Wirth", "Clarke"]
TOWNS = [("London", "GB"), ("Manchester", "GB"), ("Leeds", "GB"), ("Bristol", "GB"),
         ("Edinburgh", "GB"), ("Cardiff", "GB")]
CREDENTIALS = "var/demo-credentials.json"
# The member ``make run`` names to sign in as (besides the ``--members`` synthetic ones).
DEMO_EMAIL = "alex.demo@example.com"
DEMO_MEMBER: dict[str, object] = {
    "given_name": "Alex", "family_name": "Demo", "email": DEMO_EMAIL,
    "preferred_language": "en",
    "postal_address": {"lines": ["1 Example Street"], "locality": "London",
                       "postal_code": "EC1A 1AA", "country": "GB"},
}
STAFF = [("demo-officer", "Demo compliance officer", "officer"),
         ("demo-admin", "Demo administrator", "admin")]


def demo_member(rng: random.Random, n: int) -> dict[str, object]:
    given, family = rng.choice(GIVEN), rng.choice(FAMILY)
    town, country = rng.choice(TOWNS)
    member: dict[str, object] = {
        "given_name": given,
        "family_name": family,
        "email": f"{given}.{family}.{n}@example.com".lower(),
        "preferred_language": rng.choice(["en", "en-GB", "fr", "de"]),
        "postal_address": {"lines": [f"{rng.randint(1, 200)} High Street"], "locality": town,
                           "postal_code": f"AB{rng.randint(1, 99)} {rng.randint(1, 9)}CD",
                           "country": country},
        "preferences": {"newsletter_topics": rng.sample(["food", "home", "garden", "fashion"], 2)},
    }
    if rng.random() < 0.8:
        member["phone"] = f"+4474009{n:05d}"
    if rng.random() < 0.7:
        year, month, day = rng.randint(1950, 2005), rng.randint(1, 12), rng.randint(1, 28)
        member["birthdate"] = f"{year}-{month:02d}-{day:02d}"
    return member


def load_demo(services: Services, member_count: int = 300, seed: int = 7,
              progress: Callable[[int, int], None] | None = None) -> dict[str, str]:
    """Create what is missing; return the demo credentials (client id -> secret).
    ``progress`` is told (synthetic members there, members wanted) as members are enrolled."""
    path = Path(CREDENTIALS)
    saved: dict[str, str] = json.loads(path.read_text()) if path.is_file() else {}
    policy = services.policy
    wanted = [(c.client_id, c.name, c.kind, "client", list(c.purposes), c.collects_consent)
              for c in policy.clients.values()]
    wanted += [(cid, name, role, role, [], False) for cid, name, role in STAFF]
    with services.db.unit_of_work() as uow:
        for client_id, name, kind, role, purposes, collects in wanted:
            if uow.session.get(Client, client_id) is None:
                saved[client_id] = clients.create_client(
                    uow.session, services.hasher, client_id=client_id, name=name, kind=kind,
                    role=role, purposes=purposes, known_purposes=policy.purposes,
                    actor="system:demo", collects_consent=collects)
            elif client_id not in saved:
                saved[client_id] = clients.reset_secret(uow.session, services.hasher, client_id,
                                                        actor="system:demo")
        uow.commit()
        named = ensure_demo_member(services, uow)
        existing = (uow.session.scalar(select(func.count()).select_from(Member)) or 0) - named
    rng = random.Random(seed)
    n = created = existing
    failures = 0
    while created < member_count and failures <= member_count:
        with services.db.unit_of_work() as uow:
            try:
                members.enrol_member(uow, services.crypto, demo_member(rng, n),
                                     actor="system:demo",
                                     default_region=services.settings.default_region)
            except IdentityError:
                failures += 1  # a clash with an earlier run: try the next number
            else:
                created += 1
                if progress is not None:
                    progress(created, member_count)
        n += 1
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(saved, handle, indent=2)
    return saved


def ensure_demo_member(services: Services, uow: UnitOfWork) -> int:
    """Enrol the named demo member unless they exist; returns 1 (they are there)."""
    region = services.settings.default_region
    if members.find_member_id(uow, services.crypto, default_region=region,
                              email=DEMO_EMAIL) is None:
        members.enrol_member(uow, services.crypto, DEMO_MEMBER, actor="system:demo",
                             default_region=region)
    return 1
