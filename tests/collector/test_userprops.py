"""User-property operations and identity resolution, by table (amplitude.md §2.3)."""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import pytest

from trackwire.collector.known_users import KnownUsers
from trackwire.collector.userprops import (
    OPERATIONS,
    IdentityResolver,
    Row,
    UserOp,
    UserRow,
    apply_operations,
)
from trackwire.errors import ValidationError

# (id, properties before, operations, properties after)
CASES: list[tuple[str, dict[str, Any], list[UserOp], dict[str, Any]]] = [
    # $set
    ("set-new", {}, [("$set", {"plan": "pro"})], {"plan": "pro"}),
    ("set-overwrite", {"plan": "free", "a": 1}, [("$set", {"plan": "pro"})],
     {"plan": "pro", "a": 1}),
    ("set-null", {"plan": "free"}, [("$set", {"plan": None})], {"plan": None}),
    ("set-nested", {}, [("$set", {"o": {"k": [1]}})], {"o": {"k": [1]}}),
    ("set-empty", {"a": 1}, [("$set", {})], {"a": 1}),
    # $setOnce
    ("setonce-absent", {}, [("$setOnce", {"first": "x"})], {"first": "x"}),
    ("setonce-present", {"first": "x"}, [("$setOnce", {"first": "y"})], {"first": "x"}),
    ("setonce-present-null", {"first": None}, [("$setOnce", {"first": "y"})], {"first": None}),
    (
        "setonce-twice",
        {},
        [("$setOnce", {"first": "x"}), ("$setOnce", {"first": "y"})],
        {"first": "x"},
    ),
    # $add
    ("add-missing", {}, [("$add", {"n": 3})], {"n": 3}),
    ("add-int", {"n": 2}, [("$add", {"n": 3})], {"n": 5}),
    ("add-negative", {"n": 2}, [("$add", {"n": -5})], {"n": -3}),
    ("add-float", {"n": 2}, [("$add", {"n": 0.5})], {"n": 2.5}),
    ("add-non-numeric-amount", {"n": 2}, [("$add", {"n": "three"})], {"n": 2}),
    # Amplitude's browser SDK documents numbers written as strings for $add.
    ("add-numeric-string", {"n": 2}, [("$add", {"n": "3"})], {"n": 5}),
    ("add-numeric-string-float", {}, [("$add", {"n": " -1.5 "})], {"n": -1.5}),
    ("add-bool-amount", {"n": 2}, [("$add", {"n": True})], {"n": 2}),
    ("add-non-numeric-missing", {}, [("$add", {"n": "x"})], {}),
    ("add-to-string", {"n": "two"}, [("$add", {"n": 1})], {"n": "two"}),
    ("add-to-bool", {"n": False}, [("$add", {"n": 1})], {"n": False}),
    ("add-repeat", {}, [("$add", {"n": 1}), ("$add", {"n": 1})], {"n": 2}),
    # $append
    ("append-missing", {}, [("$append", {"l": "a"})], {"l": ["a"]}),
    ("append-list", {"l": ["a"]}, [("$append", {"l": "b"})], {"l": ["a", "b"]}),
    ("append-scalar", {"l": "a"}, [("$append", {"l": "b"})], {"l": ["a", "b"]}),
    ("append-many", {"l": ["a"]}, [("$append", {"l": ["b", "c"]})], {"l": ["a", "b", "c"]}),
    ("append-duplicate", {"l": ["a"]}, [("$append", {"l": "a"})], {"l": ["a", "a"]}),
    ("append-empty-list", {}, [("$append", {"l": []})], {"l": []}),
    # $prepend
    ("prepend-missing", {}, [("$prepend", {"l": "a"})], {"l": ["a"]}),
    ("prepend-list", {"l": ["a"]}, [("$prepend", {"l": "b"})], {"l": ["b", "a"]}),
    ("prepend-scalar", {"l": 1}, [("$prepend", {"l": 0})], {"l": [0, 1]}),
    ("prepend-many-keeps-order", {"l": ["z"]}, [("$prepend", {"l": ["a", "b"]})],
     {"l": ["a", "b", "z"]}),
    # $preInsert / $postInsert
    ("preinsert-new", {"l": ["a"]}, [("$preInsert", {"l": "b"})], {"l": ["b", "a"]}),
    ("preinsert-present", {"l": ["a", "b"]}, [("$preInsert", {"l": "b"})], {"l": ["a", "b"]}),
    ("preinsert-missing", {}, [("$preInsert", {"l": "a"})], {"l": ["a"]}),
    ("preinsert-mixed", {"l": ["b"]}, [("$preInsert", {"l": ["a", "b", "c", "a"]})],
     {"l": ["a", "c", "b"]}),
    ("postinsert-new", {"l": ["a"]}, [("$postInsert", {"l": "b"})], {"l": ["a", "b"]}),
    ("postinsert-present", {"l": ["a", "b"]}, [("$postInsert", {"l": "a"})], {"l": ["a", "b"]}),
    ("postinsert-scalar", {"l": "a"}, [("$postInsert", {"l": ["a", "b"]})], {"l": ["a", "b"]}),
    ("postinsert-bool-is-not-1", {"l": [1]}, [("$postInsert", {"l": True})], {"l": [1, True]}),
    # $remove
    ("remove-one", {"l": ["a", "b"]}, [("$remove", {"l": "a"})], {"l": ["b"]}),
    ("remove-all-occurrences", {"l": ["a", "b", "a"]}, [("$remove", {"l": "a"})], {"l": ["b"]}),
    ("remove-many", {"l": ["a", "b", "c"]}, [("$remove", {"l": ["a", "c"]})], {"l": ["b"]}),
    ("remove-absent-value", {"l": ["a"]}, [("$remove", {"l": "z"})], {"l": ["a"]}),
    ("remove-missing-property", {}, [("$remove", {"l": "a"})], {}),
    ("remove-scalar", {"l": "a"}, [("$remove", {"l": "a"})], {"l": []}),
    ("remove-true-keeps-1", {"l": [1, True]}, [("$remove", {"l": True})], {"l": [1]}),
    ("remove-object", {"l": [{"k": 1}, {"k": 2}]}, [("$remove", {"l": {"k": 1}})],
     {"l": [{"k": 2}]}),
    # $unset
    ("unset", {"a": 1, "b": 2}, [("$unset", {"a": "-"})], {"b": 2}),
    ("unset-missing", {"b": 2}, [("$unset", {"a": "-"})], {"b": 2}),
    # $clearAll
    ("clearall", {"a": 1, "b": 2}, [("$clearAll", {"-": "-"})], {}),
    ("clearall-any-argument", {"a": 1}, [("$clearAll", "-")], {}),  # type: ignore[list-item]
    ("clearall-then-set", {"a": 1}, [("$clearAll", {}), ("$set", {"b": 2})], {"b": 2}),
    # order matters
    ("set-then-unset", {}, [("$set", {"a": 1}), ("$unset", {"a": "-"})], {}),
    ("unset-then-setonce", {"a": 1}, [("$unset", {"a": "-"}), ("$setOnce", {"a": 2})], {"a": 2}),
    ("several-keys", {}, [("$set", {"a": 1, "b": 2}), ("$add", {"a": 1, "c": 1})],
     {"a": 2, "b": 2, "c": 1}),
]  # fmt: skip


@pytest.mark.parametrize(
    ("before", "ops", "after"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_apply_operations(before: dict[str, Any], ops: list[UserOp], after: dict[str, Any]) -> None:
    snapshot = copy.deepcopy(before)
    ops_snapshot = copy.deepcopy(ops)
    assert apply_operations(before, ops) == after
    assert before == snapshot, "the input properties must not change"
    assert ops == ops_snapshot, "the operations must not change"


def test_every_operation_has_a_case() -> None:
    assert {op for _, _, ops, _ in CASES for op, _ in ops} == OPERATIONS


def test_result_is_a_new_dict_and_lists_are_not_shared() -> None:
    before = {"l": ["a"]}
    after = apply_operations(before, [("$append", {"l": "b"})])
    after["l"].append("c")
    assert before == {"l": ["a"]}
    assert apply_operations(before, []) is not before


def test_accepts_any_mapping() -> None:
    class Frozen(Mapping[str, Any]):
        def __init__(self, data: dict[str, Any]) -> None:
            self._data = data

        def __getitem__(self, key: str) -> Any:
            return self._data[key]

        def __iter__(self) -> Iterator[str]:
            return iter(self._data)

        def __len__(self) -> int:
            return len(self._data)

    assert apply_operations(Frozen({"a": 1}), [("$add", Frozen({"a": 1}))]) == {"a": 2}


@pytest.mark.parametrize(
    ("ops", "field"),
    [
        ([("$bogus", {"a": 1})], "user_ops[0]"),
        ([("$set", {"a": 1}), ("set", {"a": 1})], "user_ops[1]"),
        ([("$set", ["a"])], "user_ops[0]"),
        ([("$add", 5)], "user_ops[0]"),
    ],
)
def test_invalid_operations_are_refused(ops: Sequence[Any], field: str) -> None:
    with pytest.raises(ValidationError) as info:
        apply_operations({}, ops)
    assert info.value.field == field


def test_row_decodes_properties_only_when_changed() -> None:
    stored = '{"b":1,  "a":2}'  # not orjson's spelling: proves the text is passed through
    untouched = Row(stored, 1, 1)
    untouched.seen(5)
    assert untouched.properties_text() == stored
    changed = Row(stored, 1, 1)
    changed.apply([("$add", {"b": 1})])
    assert changed.properties_text() == '{"b":2,"a":2}'
    assert changed.changed and not changed.is_new


def test_row_refuses_values_without_json_form() -> None:
    row = Row("{}", 1, 1)
    row.apply([("$set", {"s": {1, 2}})])
    with pytest.raises(ValidationError):
        row.properties_text()


# --- identity resolution ---------------------------------------------------------------------


class Ids:
    """An id allocator that records how many ids were taken."""

    def __init__(self, start: int = 100) -> None:
        self.next = start

    def __call__(self) -> int:
        self.next += 1
        return self.next - 1


def test_user_id_event_creates_then_finds_the_user() -> None:
    resolver = IdentityResolver(Ids())
    first = resolver.resolve(1, "u1", None, 10)
    again = resolver.resolve(1, "u1", "d1", 20)
    assert first is again and first is not None
    assert (first.amplitude_id, first.user_id, first.device_id) == (100, "u1", "d1")
    assert (first.first_seen_ms, first.last_seen_ms, first.is_new) == (10, 20, True)


def test_sources_are_separate() -> None:
    resolver = IdentityResolver(Ids())
    a = resolver.resolve(1, "u1", None, 10)
    b = resolver.resolve(2, "u1", None, 10)
    assert a is not None and b is not None and a.amplitude_id != b.amplitude_id


def test_no_ids_means_no_user() -> None:
    ids = Ids()
    assert IdentityResolver(ids).resolve(1, None, None, 10) is None
    assert ids.next == 100


def test_anonymous_device_is_claimed_by_a_new_user_id() -> None:
    resolver = IdentityResolver(Ids())
    anonymous = resolver.resolve(1, None, "d1", 10)
    known = resolver.resolve(1, "u1", "d1", 20)
    assert anonymous is known and known is not None
    assert known.user_id == "u1"


def test_anonymous_device_is_not_claimed_by_an_existing_user() -> None:
    resolver = IdentityResolver(Ids())
    existing = resolver.resolve(1, "u1", "d-old", 5)
    anonymous = resolver.resolve(1, None, "d1", 10)
    known = resolver.resolve(1, "u1", "d1", 20)
    assert known is existing and anonymous is not existing
    assert anonymous is not None and anonymous.user_id is None
    # The device now belongs to u1: later anonymous events on it count for u1.
    assert resolver.resolve(1, None, "d1", 30) is existing
    assert (1, "d1", existing.amplitude_id) in list(resolver.moved_devices())


def test_device_of_another_user_is_not_claimed() -> None:
    resolver = IdentityResolver(Ids())
    first = resolver.resolve(1, "u1", "shared", 10)
    second = resolver.resolve(1, "u2", "shared", 20)
    assert first is not second and second is not None
    assert resolver.resolve(1, None, "shared", 30) is second


def test_remembered_users_are_found_and_written_back_only_when_touched() -> None:
    resolver = IdentityResolver(Ids())
    stored = UserRow(7, 1, "u1", "d1", '{"plan":"pro"}', 5, 6)
    idle = UserRow(8, 1, "u2", None, "{}", 5, 6)
    resolver.remember(stored, device_id="d1")
    resolver.remember(idle)
    found = resolver.resolve(1, None, "d1", 9)
    assert found is stored
    assert resolver.changed_users() == [stored]
    assert (stored.first_seen_ms, stored.last_seen_ms, stored.is_new) == (5, 9, False)
    assert list(resolver.moved_devices()) == []


def test_remembering_the_same_user_twice_keeps_one_object() -> None:
    resolver = IdentityResolver(Ids())
    resolver.remember(UserRow(7, 1, "u1", "d1", "{}", 5, 6))
    resolver.remember(UserRow(7, 1, "u1", "d1", "{}", 5, 6), device_id="d1")
    assert resolver.resolve(1, "u1", None, 9) is resolver.resolve(1, None, "d1", 9)


def test_seen_times_widen_both_ways() -> None:
    resolver = IdentityResolver(Ids())
    user = resolver.resolve(1, "u1", None, 50)
    resolver.resolve(1, "u1", None, 10)
    resolver.resolve(1, "u1", None, 30)
    assert user is not None and (user.first_seen_ms, user.last_seen_ms) == (10, 50)


# --- KnownUsers: the committed users a store recognises without a query --------------------


def _committed(
    amplitude_id: int, user_id: str | None, device_id: str | None, first: int, last: int
) -> UserRow:
    return UserRow(amplitude_id, 1, user_id, device_id, "{}", first, last)


def _span(found: Any) -> tuple[int, int, int] | None:
    if found is None:
        return None
    return found.amplitude_id, found.first_seen_ms, found.last_seen_ms


def test_known_users_find_only_what_changes_nothing_but_the_span() -> None:
    known = KnownUsers()
    known.learn(
        iter([_committed(7, "u1", "d1", 10, 20), _committed(8, None, "d2", 5, 6)]),
        iter([(1, "d1", 7), (1, "d2", 8), (1, "d3", 7)]),
        {},
    )
    assert len(known) == 2
    assert _span(known.lookup(1, "u1", None)) == (7, 10, 20)
    assert _span(known.lookup(1, "u1", "d1")) == (7, 10, 20)
    assert _span(known.lookup(1, None, "d2")) == (8, 5, 6)
    # Another source, an unknown id, a device that is not the user's last one, a device
    # whose last user is another one: the full resolution decides.
    assert known.lookup(2, "u1", None) is None
    assert known.lookup(1, "u9", None) is None
    assert known.lookup(1, "u1", "d3") is None
    assert known.lookup(1, "u1", "d2") is None
    assert known.lookup(1, None, "d3") is None
    assert known.lookup(1, None, None) is None


def test_known_users_learn_spans_and_claims_by_every_id() -> None:
    known = KnownUsers()
    known.learn(iter([_committed(8, None, "d2", 5, 6)]), iter([(1, "d2", 8)]), {})
    assert known.lookup(1, "u2", "d2") is None  # not claimed yet
    # The anonymous user takes a user id; a later request widens its span.
    known.learn(iter([_committed(8, "u2", "d2", 5, 9)]), iter([]), {})
    known.learn(iter([]), iter([]), {8: [3, 12], 99: [1, 2]})  # 99: not known, ignored
    assert _span(known.lookup(1, "u2", "d2")) == (8, 3, 12)
    assert _span(known.lookup(1, None, "d2")) == (8, 3, 12)
    assert len(known) == 1


def test_known_users_start_over_past_their_bound() -> None:
    known = KnownUsers(max_users=2)
    known.learn(iter([_committed(i, f"u{i}", None, 1, 1) for i in range(3)]), iter([]), {})
    assert len(known) == 3
    known.learn(iter([_committed(5, "u5", None, 1, 1)]), iter([]), {})
    assert len(known) == 1
    assert known.lookup(1, "u0", None) is None
    assert _span(known.lookup(1, "u5", None)) == (5, 1, 1)
