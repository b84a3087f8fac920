"""Officers watch webhook deliveries."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from outbox import tracking
from schema.access import Role, guarded
from schema.outbox.types import Delivery, DeliveryPage, DeliveryState


@strawberry.type
class DeliveryQuery:
    @strawberry.field(description="Webhook deliveries, newest first; filter by state "
                      "and recipient.", extensions=guarded(Role.OFFICER))
    def deliveries(self, info: Info, state: DeliveryState | None = None,
                   client_id: str | None = None, first: int = 50,
                   after: str | None = None) -> DeliveryPage:
        ctx = info.context
        bound = f"deliveries:{ctx.principal.actor}"
        before = ctx.services.cursors.decode_int(after, bound_to=bound) if after else None
        rows = tracking.page(ctx.uow.session, state=state.value if state else None,
                             client_id=client_id,
                             first=first, before_id=before)
        cursor = (ctx.services.cursors.encode_int(rows[-1].id, bound_to=bound)
                  if len(rows) == first else None)
        return DeliveryPage(items=[Delivery.of(r) for r in rows], next_cursor=cursor)
