"""The inheritance rule of page read permissions (``tenant_rag.permissions.effective_readers``) and the front matter
form of its result."""

from __future__ import annotations

import pytest

from tenant_rag.config import parse_customer_config
from tenant_rag.errors import ConfigError
from tenant_rag.permissions import UNKNOWN, PermissionsUnreadable, Principals, Readers, effective_readers

GROUPS = {
    "confluence-users": {"ada", "bob", "cy", "dee"},
    "hr": {"ada", "bob", "eve"},  # eve has no product access: not a space viewer
    "legal": {"bob", "cy"},
    "staff": {"ada", "bob"},
}
SPACE = Principals(groups=frozenset({"confluence-users"}))


def groups_of(user: str) -> frozenset[str]:
    return frozenset(name for name, members in GROUPS.items() if user in members)


def members_of(group: str) -> frozenset[str]:
    return frozenset(GROUPS[group])


def readers(space: Principals, *chain: Principals) -> Readers:
    return effective_readers(space, list(chain), groups_of, members_of)


def restriction(*, users: tuple[str, ...] = (), groups: tuple[str, ...] = ()) -> Principals:
    return Principals(frozenset(users), frozenset(groups))


def test_an_unrestricted_page_is_read_by_the_space_viewers() -> None:
    space = Principals(frozenset({"zed"}), frozenset({"confluence-users"}))
    assert readers(space) == Readers(("zed",), ("confluence-users",), restricted=False)
    assert readers(space, Principals(), Principals()) == readers(space)  # empty restrictions restrict nothing


def test_a_restriction_to_users_keeps_only_those_who_view_the_space() -> None:
    assert readers(SPACE, restriction(users=("ada", "eve"))) == Readers(("ada",), (), restricted=True)


def test_a_group_whose_members_all_view_the_space_stays_a_group() -> None:
    assert readers(SPACE, restriction(groups=("legal",))) == Readers((), ("legal",), restricted=True)


def test_a_group_with_a_member_outside_the_space_becomes_its_viewing_members() -> None:
    assert readers(SPACE, restriction(groups=("hr",))) == Readers(("ada", "bob"), (), restricted=True)


def test_a_restricted_parent_narrows_its_child_to_the_intersection() -> None:
    parent = restriction(groups=("staff",))
    child = restriction(users=("bob", "cy"), groups=("legal",))
    # bob is in staff; cy is not; legal is not named by the parent and has cy in it
    assert readers(SPACE, parent, child) == Readers(("bob",), (), restricted=True)
    assert readers(SPACE, child, parent) == readers(SPACE, parent, child)  # the order of the chain does not matter


def test_a_group_named_by_every_restriction_stays_a_group_and_covers_its_members() -> None:
    parent = restriction(users=("cy",), groups=("staff",))
    child = restriction(users=("ada", "cy"), groups=("staff",))
    assert readers(SPACE, parent, child) == Readers(("cy",), ("staff",), restricted=True)  # ada reads through staff


def test_disjoint_restrictions_leave_nobody() -> None:
    assert readers(SPACE, restriction(users=("ada",)), restriction(users=("bob",))) == Readers(restricted=True)


def test_an_anonymous_space_admits_every_restriction_principal() -> None:
    space = Principals(anonymous=True)
    assert readers(space) == Readers(anonymous=True)
    mixed = restriction(users=("eve", "zed"), groups=("hr",))  # eve is in hr: the group covers her
    assert readers(space, mixed) == Readers(("zed",), ("hr",), restricted=True)


def test_a_membership_that_cannot_be_read_propagates() -> None:
    def broken(user: str) -> frozenset[str]:
        raise PermissionsUnreadable(user)

    with pytest.raises(PermissionsUnreadable):
        effective_readers(SPACE, [restriction(users=("ada",))], broken, members_of)


def test_readers_round_trip_and_damaged_values_read_as_unknown() -> None:
    value = Readers(("ada",), ("hr",), restricted=True)
    assert value.to_json() == {"users": ["ada"], "groups": ["hr"], "restricted": True}
    assert Readers.from_json(value.to_json()) == value
    assert Readers.from_json(Readers(anonymous=True).to_json()) == Readers(anonymous=True)
    assert UNKNOWN.to_json() == "unknown" and Readers.from_json("unknown") == UNKNOWN
    for damaged in ({"users": "ada", "groups": [], "restricted": True}, {"users": [], "groups": [1]}, [], 3):
        assert Readers.from_json(damaged) == UNKNOWN


def test_rag_permissions_defaults_to_off_and_refuses_other_values() -> None:
    raw = {
        "customer_id": "acme",
        "display_name": "Acme",
        "export": {"source": "confluence", "base_url": "https://a", "space_keys": ["ENG"]},
    }
    assert parse_customer_config(raw, customer_id="acme", path="acme/config.yaml").rag.permissions == "off"
    enforced = {**raw, "rag": {"permissions": "enforce"}}
    assert parse_customer_config(enforced, customer_id="acme", path="acme/config.yaml").rag.permissions == "enforce"
    with pytest.raises(ConfigError) as refused:
        parse_customer_config({**raw, "rag": {"permissions": "on"}}, customer_id="acme", path="acme/config.yaml")
    assert [field for field, _ in refused.value.problems] == ["rag.permissions"]
