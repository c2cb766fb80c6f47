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
