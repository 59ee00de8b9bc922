"""Who may call what: the admin token that guards loading and unloading models."""

from __future__ import annotations

import hmac

import grpc

from kiln.server.errors import Unauthenticated
from kiln.server.settings import KilnSettings


def require_admin(context: grpc.aio.ServicerContext, settings: KilnSettings) -> None:
    """Raise `Unauthenticated` unless the call carries the admin token (when one is set).

    The token travels as ``authorization: Bearer <token>`` metadata, as the SDKs' and
    tritonclient's ``headers`` send it. Tokens are compared in constant time.
    """
    if settings.admin_token is None:
        return
    sent = dict(context.invocation_metadata() or ()).get("authorization")
    hint = "send the server's admin token as 'authorization: Bearer <token>' metadata"
    if sent is None:
        raise Unauthenticated(
            f"loading and unloading models needs the admin token; {hint}",
            reason="ADMIN_TOKEN_REQUIRED",
        )
    expected = f"Bearer {settings.admin_token.get_secret_value()}"
    if not hmac.compare_digest(sent.encode(), expected.encode()):
        raise Unauthenticated(
            f"the admin token sent does not match the server's; {hint}",
            reason="ADMIN_TOKEN_INVALID",
        )
