"""Use case: sign in to the portal or the console with an API key, and be signed in (ADR 0038).

Signing in is the access guard's decision on the key, exactly as for an API call
(same failed-sign-in counting and blocking, same audit of refusals). A granted key
is exchanged for a session: a random token for the browser, its digest in the store.
Every later request of the session is admitted by the guard again (the key still
usable, its quota spent), so revoking a key ends its sessions and a page costs the
same quota as the API call it stands for.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Callable
from datetime import timedelta

import attrs

from partner_ingest.domain.model.api_keys import KeyRole
from partner_ingest.domain.model.web_sessions import WebSession, token_digest
from partner_ingest.ports.clock import Clock
from partner_ingest.ports.rate_limit import RateDecision
from partner_ingest.ports.unit_of_work import UnitOfWorkFactory

from .access_errors import AccessError, KeyRateLimited
from .authenticate import AccessGuard, Granted

__all__ = ["Admitted", "SignedIn", "WebSessions"]

TOKEN_BYTES = 32


@attrs.frozen
class SignedIn:
    """A new session; `token` goes into the cookie and is never stored."""

    token: str = attrs.field(repr=False)
    session: WebSession


@attrs.frozen
class Admitted:
    """A live session may make this request; `rate` is its key's quota decision."""

    session: WebSession
    rate: RateDecision


def _token(random_bytes: Callable[[int], bytes]) -> str:
    return base64.urlsafe_b64encode(random_bytes(TOKEN_BYTES)).rstrip(b"=").decode("ascii")


class WebSessions:
    """Sign in, admit a session's request, sign out, purge expired sessions."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        guard: AccessGuard,
        clock: Clock,
        *,
        lifetime: timedelta = timedelta(hours=8),
        random_bytes: Callable[[int], bytes] = secrets.token_bytes,
    ) -> None:
        self._uow = uow
        self._guard = guard
        self._clock = clock
        self._lifetime = lifetime
        self._random_bytes = random_bytes

    def sign_in(self, presented: str | None, client: str, *, role: KeyRole) -> SignedIn | AccessError:
        """A session for a key of `role`, or the guard's refusal (counted and audited by it)."""
        outcome = self._guard.decide(presented, client, role=role)
        if not isinstance(outcome, Granted):
            return outcome
        principal = outcome.principal
        token = _token(self._random_bytes)
        now = self._clock.now()
        session = WebSession(
            token_hash=token_digest(token),
            role=principal.role,
            partner_id=principal.partner_id,
            key_id=principal.key_id,
            csrf_token=_token(self._random_bytes),
            created_at=now,
            expires_at=now + self._lifetime,
        )
        with self._uow() as uow:
            uow.web_sessions.add(session)
            uow.commit()
        return SignedIn(token, session)

    def admit(self, token: str | None, client: str, *, role: KeyRole) -> Admitted | KeyRateLimited | None:
        """The session of `token` if it is live, of `role`, and its key still admitted; None
        sends the browser back to sign in (unknown, ended, expired, revoked key). An expired
        session is deleted on sight."""
        if not token:
            return None
        digest = token_digest(token)
        with self._uow(read_only=True) as uow:
            session = uow.web_sessions.get(digest)
        if session is None or session.role is not role:
            return None
        if not session.live_at(self._clock.now()):
            self.sign_out(token)
            return None
        outcome = self._guard.admit(session.principal, client)
        if isinstance(outcome, KeyRateLimited):
            return outcome
        if not isinstance(outcome, Granted):
            self.sign_out(token)
            return None
        return Admitted(session, outcome.rate)

    def sign_out(self, token: str) -> bool:
        """End the session of `token`; False when there was none."""
        with self._uow() as uow:
            ended = uow.web_sessions.delete(token_digest(token))
            uow.commit()
        return ended

    def purge_expired(self) -> int:
        """Delete every expired session; how many."""
        with self._uow() as uow:
            gone = uow.web_sessions.delete_expired(self._clock.now())
            uow.commit()
        return gone
