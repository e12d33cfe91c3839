"""Who may do what in which tenant: the tenant comes from the caller's credential (API key
binding or JWT claims), the role from the same place, never from the request alone.

Roles nest: a `writer` may read, an `admin` may write and read the tenant's retrieval log.
"""

from __future__ import annotations

from typing import Literal

from .platform.errors import BadRequest, Forbidden
from .platform.security import ALL_TENANTS, Caller

Role = Literal["reader", "writer", "admin"]
ROLES: tuple[Role, ...] = ("reader", "writer", "admin")
ACTIONS: dict[Role, str] = {
    "reader": "reading documents and answers",
    "writer": "adding or deleting documents",
    "admin": "reading the retrieval log",
}


def highest_role(caller: Caller) -> int:
    """Index in ROLES of the caller's strongest role; -1 when it carries none of them."""
    return max((ROLES.index(role) for role in caller.roles if role in ROLES), default=-1)


def authorize(caller: Caller, tenant: str | None, role: Role) -> str:
    """The tenant this call acts in (named, or the only one the credential reaches), once
    the caller is bound to it and carries `role` (or a stronger one); 403 otherwise."""
    if highest_role(caller) < ROLES.index(role):
        raise Forbidden(
            f"{ACTIONS[role]} needs the {role!r} role (or a stronger one), which this credential"
            f" lacks; it carries {sorted(caller.roles) or 'no role'}"
        )
    if tenant is None:
        if ALL_TENANTS in caller.tenants or len(caller.tenants) > 1:
            raise BadRequest(
                "tenant is required: this credential reaches several tenants", field="tenant"
            )
        if not caller.tenants:
            raise Forbidden("this credential is bound to no tenant")
        (tenant,) = caller.tenants
    caller.require_tenant(tenant)
    return tenant
