"""Who may read a page: Confluence's rule, as the export records it and the store will enforce it.

A page is readable by a user who can view its space and who satisfies the read restriction of the page and of every
ancestor that has one (a restricted parent restricts its whole subtree; a child cannot widen it). A restriction is
satisfied by being named in it, or by being a member of a group named in it. An empty restriction is no restriction.

The result is flattened into one union a query can test without knowing the rule: ``Readers.users`` (account ids)
and ``Readers.groups`` (group names); a user reads the page when named, or a member of a named group.
:func:`effective_readers` computes it:

- no restriction on the chain: the space's viewers, ``restricted`` False;
- otherwise ``restricted`` True, and a **group** is a reader when every restriction names it and the space admits
  it as a whole (names it, is open to anonymous users, or every current member of it is a space viewer); a **user**
  is a reader when not already covered by a reader group and every restriction and the space admit them (named, or
  a member of a named group). Candidates are the users and the members of the groups of the most selective
  restriction (every reader satisfies it), so only those groups' member lists and those users' memberships are
  looked up.

Membership comes through two callbacks (``groups_of(user)``, ``members_of(group)``), cached by the caller; a lookup
that fails makes the page's readers unknown (:data:`UNKNOWN`), which enforcement treats as readable by nobody.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

UNKNOWN_VALUE = "unknown"  # how unknown readers are written in front matter and the manifest


class PermissionsUnreadable(Exception):
    """The permissions of a page (its space's, a restriction, or a membership) could not be read."""


@dataclass(frozen=True)
class Principals:
    """The users and groups one permission names: a space's view permission or one read restriction."""

    users: frozenset[str] = frozenset()
    groups: frozenset[str] = frozenset()
    anonymous: bool = False  # a space open to anonymous users: everyone views it

    @property
    def empty(self) -> bool:
        return not (self.users or self.groups or self.anonymous)

    def admits_user(self, user: str, groups: frozenset[str]) -> bool:
        return self.anonymous or user in self.users or not self.groups.isdisjoint(groups)


@dataclass(frozen=True)
class Readers:
    """Who may read one page (or attachment): any user in ``users`` or in a group of ``groups``.

    ``restricted``: a read restriction applies (on the page or an ancestor). ``known`` False: the permissions could
    not be read (nobody may read it under enforcement)."""

    users: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    restricted: bool = False
    anonymous: bool = False
    known: bool = True

    def to_json(self) -> dict[str, Any] | str:
        """The front matter and manifest form: ``{users, groups, restricted[, anonymous]}`` or ``"unknown"``."""
        if not self.known:
            return UNKNOWN_VALUE
        value: dict[str, Any] = {"users": list(self.users), "groups": list(self.groups), "restricted": self.restricted}
        if self.anonymous:
            value["anonymous"] = True
        return value

    @classmethod
    def from_json(cls, value: object) -> Readers:
        """Parse ``to_json``'s form; anything else (a hand-edited or damaged value) is unknown: fail closed."""
        if not isinstance(value, dict):
            return UNKNOWN
        users, groups = value.get("users"), value.get("groups")
        flags = (value.get("restricted"), value.get("anonymous", False))
        if not (_strings(users) and _strings(groups) and all(isinstance(flag, bool) for flag in flags)):
            return UNKNOWN
        assert isinstance(users, list) and isinstance(groups, list)
        return cls(tuple(users), tuple(groups), restricted=bool(flags[0]), anonymous=bool(flags[1]))


UNKNOWN = Readers(restricted=True, known=False)


def _strings(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def effective_readers(
    space: Principals,
    chain: Sequence[Principals],
    groups_of: Callable[[str], frozenset[str]],
    members_of: Callable[[str], frozenset[str]],
) -> Readers:
    """The readers of a page in a space viewed by ``space`` whose ancestors' and own read restrictions are ``chain``
    (any order; empty restrictions are ignored). The callbacks raise ``PermissionsUnreadable`` when a lookup fails."""
    restrictions = [r for r in chain if not r.empty]
    if not restrictions:
        return Readers(tuple(sorted(space.users)), tuple(sorted(space.groups)), anonymous=space.anonymous)
    common = frozenset.intersection(*(r.groups for r in restrictions))

    def space_admits_group(group: str) -> bool:
        if space.anonymous or group in space.groups:
            return True
        members = members_of(group)
        return bool(members) and all(space.admits_user(member, groups_of(member)) for member in members)

    groups = frozenset(group for group in common if space_admits_group(group))
    pivot = min(restrictions, key=lambda r: (len(r.groups - groups), len(r.users), sorted(r.users)))
    candidates = set(pivot.users)  # every reader satisfies the pivot: named in it, or a member of one of its groups
    for group in sorted(pivot.groups - groups):
        candidates |= members_of(group)
    users = []
    for user in sorted(candidates):
        memberships = groups_of(user)
        if not memberships.isdisjoint(groups):
            continue  # a reader group covers them
        if all(r.admits_user(user, memberships) for r in restrictions) and space.admits_user(user, memberships):
            users.append(user)
    return Readers(tuple(users), tuple(sorted(groups)), restricted=True)


# How the store and the query path spell principals (``readers text[]`` of a store of format 3 on): a user, a group,
# and everyone (a space open to anonymous users, or a source that records no permissions).
USER_PREFIX, GROUP_PREFIX, EVERYONE = "u:", "g:", "*"


def reader_principals(readers: Readers | None) -> list[str]:
    """The principals that may read a page, as stored: ``u:<account id>``, ``g:<group>``, ``*`` (anyone).

    ``None`` (a directory source, which records no permissions) is readable by everyone; unknown readers by nobody
    (an empty array: no identity overlaps it)."""
    if readers is None:
        return [EVERYONE]
    if not readers.known:
        return []
    principals = [USER_PREFIX + user for user in readers.users] + [GROUP_PREFIX + group for group in readers.groups]
    return ([EVERYONE] if readers.anonymous else []) + sorted(set(principals))


class InvalidIdentityError(ValueError):
    """An end user's identity that cannot be used: an empty account id, or too long or too many values."""


@dataclass(frozen=True)
class Identity:
    """The end user a query answers (asserted by the trusted caller holding the customer's key): their Confluence
    account id and the groups they belong to."""

    account_id: str
    groups: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        from tenant_rag.constants import MAX_ACCOUNT_ID_CHARS, MAX_GROUP_CHARS, MAX_IDENTITY_GROUPS

        if not isinstance(self.account_id, str) or not self.account_id.strip():
            raise InvalidIdentityError("identity: account_id must be a non-empty string")
        if len(self.account_id) > MAX_ACCOUNT_ID_CHARS or "\x00" in self.account_id:
            raise InvalidIdentityError(f"identity: account_id must be at most {MAX_ACCOUNT_ID_CHARS} characters")
        groups = tuple(self.groups)
        if len(groups) > MAX_IDENTITY_GROUPS:
            raise InvalidIdentityError(f"identity: at most {MAX_IDENTITY_GROUPS} groups, got {len(groups)}")
        for group in groups:
            if not isinstance(group, str) or not group or len(group) > MAX_GROUP_CHARS or "\x00" in group:
                raise InvalidIdentityError(
                    f"identity: each group must be a non-empty string of at most {MAX_GROUP_CHARS} characters"
                )
        object.__setattr__(self, "groups", groups)

    def principals(self) -> list[str]:
        """What this user is, in the store's spelling (``reader_principals``): themself, their groups, and anyone."""
        return [USER_PREFIX + self.account_id, *(GROUP_PREFIX + group for group in sorted(set(self.groups))), EVERYONE]
