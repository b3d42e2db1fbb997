"""The three-way merge rule on its own: base, MAL and aniSearch values, field by field."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from malsync.pipeline.merge import CONTROL_FIELDS, Conflict, merge, same_value

BASE = {"status": "ongoing", "episodes_watched": 3, "notes": "good", "use_myanimelist_id": True}


def test_a_field_changed_on_mal_is_sent_and_one_left_alone_keeps_anisearchs_value() -> None:
    mal = {**BASE, "episodes_watched": 4}
    held = {"status": "on_hold", "episodes_watched": 3, "notes": "edited on aniSearch"}
    merged = merge(BASE, mal, held)
    # status is required: sent as aniSearch holds it, so the PUT leaves it.
    assert merged.body == {"use_myanimelist_id": True, "episodes_watched": 4, "status": "on_hold"}
    assert merged.kept == ("status", "notes")
    assert merged.conflicts == ()


def test_a_field_changed_on_both_sides_takes_mals_value_and_is_a_conflict() -> None:
    mal = {**BASE, "notes": "great"}
    merged = merge(BASE, mal, {"status": "ongoing", "episodes_watched": 3, "notes": "meh"})
    assert merged.body == {"use_myanimelist_id": True, "notes": "great", "status": "ongoing"}
    assert merged.conflicts == (Conflict("notes", "good", "great", "meh"),)


def test_the_same_change_on_both_sides_is_no_conflict() -> None:
    mal = {**BASE, "status": "completed"}
    merged = merge(BASE, mal, {**BASE, "status": "completed"})
    assert merged.body is not None and merged.body["status"] == "completed"
    assert merged.conflicts == ()


def test_a_deleted_title_stays_deleted_unless_mal_changed_it() -> None:
    assert merge(BASE, dict(BASE), None).deleted_kept
    assert merge(BASE, dict(BASE), None).body is None
    changed = {**BASE, "episodes_watched": 5}
    assert merge(BASE, changed, None).body == changed  # created again, whole


def test_without_a_base_mals_whole_body_is_sent() -> None:
    mal = {**BASE, "episodes_watched": 5}
    assert merge(None, mal, {"status": "dropped"}).body == mal
    assert merge(None, mal, None).body == mal


def test_a_change_in_control_fields_alone_is_no_change_on_mal() -> None:
    mal = {**BASE, "use_myanimelist_id": False, "touch": True}
    merged = merge(BASE, mal, {"status": "ongoing", "episodes_watched": 3, "notes": "good"})
    assert merged.body == {"use_myanimelist_id": False, "touch": True, "status": "ongoing"}
    assert merge(BASE, mal, None).deleted_kept


# Small domains, so that equal values on two sides (the interesting cases) come up often.
FIELDS = ("status", "episodes_watched", "notes", "is_rewatching")
VALUES: dict[str, st.SearchStrategy[Any]] = {
    "status": st.sampled_from(["ongoing", "completed", "dropped"]),
    "episodes_watched": st.integers(0, 3),
    "notes": st.sampled_from(["a", "b", "a\r\n", " b"]),
    "is_rewatching": st.booleans(),
}


@st.composite
def bodies(draw: st.DrawFn, *, status_always: bool) -> dict[str, Any]:
    body = {}
    for name in FIELDS:
        present = (status_always and name == "status") or draw(st.booleans())
        if present:
            body[name] = draw(VALUES[name])
    return body


def put(held: dict[str, Any] | None, body: dict[str, Any] | None) -> dict[str, Any] | None:
    """What aniSearch holds after a PUT of `body`: the fields it names, the rest as they were."""
    if body is None:
        return held
    after = dict(held or {})
    after.update({name: value for name, value in body.items() if name not in CONTROL_FIELDS})
    return after


@given(
    base=st.none() | bodies(status_always=True),
    mal=bodies(status_always=True),
    held=st.none() | bodies(status_always=True),
)
def test_the_merge_does_what_the_policy_table_says_and_a_second_merge_sends_nothing(
    base: dict[str, Any] | None, mal: dict[str, Any], held: dict[str, Any] | None
) -> None:
    mal = {**mal, "use_myanimelist_id": True}
    merged = merge(base, mal, held)
    after = put(held, merged.body)
    changed = base is None or any(
        not same_value(base.get(n), v) for n, v in mal.items() if n in FIELDS
    )
    if held is None:
        # Deleted on aniSearch: created again, whole, when there is no base or MAL changed.
        assert (after is None) is (not changed) is merged.deleted_kept
        assert after is None or after == {n: v for n, v in mal.items() if n in FIELDS}
    else:
        assert after is not None
        for name in FIELDS:
            on_mal = name in mal and (base is None or not same_value(base.get(name), mal[name]))
            if on_mal:  # changed on MAL since the base (or no base): MAL's value
                assert after[name] == mal[name]
            else:  # MAL left it alone (or does not carry it): aniSearch's value, whatever it is
                assert same_value(after.get(name), held.get(name))
            both = (
                on_mal
                and base is not None
                and not same_value(held.get(name), base.get(name))
                and not same_value(held.get(name), mal[name])
            )
            assert (name in {c.field for c in merged.conflicts}) is both
    # Once aniSearch accepted the body, MAL's body is the base: merging again changes nothing.
    new_base = mal if merged.body is not None else base
    again = merge(new_base, mal, after)
    assert again.conflicts == ()
    sent = put(after, again.body)
    assert sent == after
