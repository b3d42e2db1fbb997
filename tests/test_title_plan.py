"""Planning per aniSearch title, purely: the title stage's rows, what the checkpoint's titles
make unchanged or unmatched, deletions that spare a bundle with a member listed, and the
checkpoint and the sender that keep a bundle as one title."""

from __future__ import annotations

import sqlite3
from dataclasses import fields
from pathlib import Path
from typing import Any

from malsync.anisearch.answers import ApiResponse, ResponseMeaning
from malsync.commands.restore import plan_runs
from malsync.commands.sync_deletions import deletions_still_gone
from malsync.ids.lookup import NO_IDS, IdLookup
from malsync.ids.title_ids import IdSource
from malsync.ids.titles import assign_titles
from malsync.pipeline.anisearch_ratings import AniSearchRatings, anisearch_rating
from malsync.pipeline.decisions import Baseline, Decision, Policy, Verdict, payload_hash
from malsync.pipeline.planner import decide
from malsync.pipeline.records import (
    Action,
    ChangeRecord,
    InvalidEntry,
    KeptTitle,
    MediaType,
    Outcome,
    Payload,
    Settlement,
)
from malsync.pipeline.uploader import execute
from malsync.store.backup import Backup
from malsync.store.checkpoint import Checkpoint
from tests.test_uploader import ScriptedSession

ANIME = MediaType.ANIME
OK = ApiResponse(ResponseMeaning.OK, 200, "")
IDS = IdLookup(
    hand={ANIME: {9: 900}},
    links={ANIME: {1: (101,), 384: (500,), 1010: (500,), 77: (701, 702)}},
)


def body(**fields: object) -> Payload:
    found: Payload = {"status": "completed", "use_myanimelist_id": True}
    found.update(fields)  # type: ignore[arg-type]
    return found


def send(mal_id: int, **fields: object) -> Decision:
    return Decision(ANIME, mal_id, f"T{mal_id}", "a.xml", Verdict.SEND, body(**fields), ())


def titled(*decisions: Decision, ids: IdLookup = IDS) -> list[Decision]:
    return assign_titles(list(decisions), ids)


def test_each_entry_goes_into_its_titles_rows_a_bundles_side_by_side() -> None:
    rows = titled(
        send(1010, episodes_watched=13),
        send(1, episodes_watched=26),
        send(384, episodes_watched=12),
        send(77, episodes_watched=2),
        send(9),
        send(38840),
    )
    assert [(row.mal_id, row.anisearch_id, row.verdict) for row in rows] == [
        (384, 500, Verdict.SEND),  # a bundle's rows where its first member came, by MAL id
        (1010, 500, Verdict.SEND),
        (1, 101, Verdict.SEND),
        (77, 701, Verdict.SEND),
        (77, 702, Verdict.SEND),
        (9, 900, Verdict.SEND),
        (38840, None, Verdict.UNMATCHED),
    ]
    assert rows[0].payload == rows[1].payload and rows[0].payload is not None
    assert rows[0].payload["episodes_watched"] == 25
    assert rows[0].members == rows[1].members == (384, 1010)
    assert [row.request_key for row in rows[:2]] == [("title", ANIME, 500)] * 2
    assert rows[4].payload is not None and "episodes_watched" not in rows[4].payload
    assert rows[3].parts == rows[4].parts == (701, 702)
    assert (rows[5].id_source, rows[6].id_source) == (IdSource.HAND_MAPPING, IdSource.UNLINKED)
    assert rows[6].reason == "aniSearch links no title to MAL id 38840"
    assert all(row.payload and row.payload["use_myanimelist_id"] is False for row in rows[:6])
    # Without links, every entry goes by its MAL id, as before.
    plain = titled(send(384), send(38840), ids=NO_IDS)
    assert [(row.request_key, row.by_title) for row in plain] == [
        (("mal", ANIME, 384), False),
        (("mal", ANIME, 38840), False),
    ]


def test_a_titled_row_keeps_every_other_field_of_its_entry() -> None:
    """The title stage builds each row field by field: every field it does not set is the
    entry's own, however many fields a decision comes to have."""
    marks = {f.name: object() for f in fields(Decision)}
    entry = Decision(
        **{
            **marks,
            "media": ANIME,
            "mal_id": 9,
            "verdict": Verdict.SEND,
            "payload": {"status": "completed", "use_myanimelist_id": False},
        }
    )
    (row,) = assign_titles([entry], IDS)
    titled = {"payload", "anisearch_id", "id_source", "members", "parts"}
    assert {name: getattr(row, name) for name in marks if name not in titled} == {
        name: getattr(entry, name) for name in marks if name not in titled
    }
    assert (row.anisearch_id, row.id_source, row.members, row.parts) == (
        900,
        IdSource.HAND_MAPPING,
        (9,),
        (),
    )


def test_an_entry_sent_by_its_mal_id_keeps_every_other_field_and_its_body() -> None:
    """Without links or a hand mapping, an entry is a title of its own: its row is made at
    once, the body says it goes by MAL id, and the entry's own body is left as it was."""
    marks = {f.name: object() for f in fields(Decision)}
    bodies: list[Payload] = [
        {"status": "completed", "use_myanimelist_id": True},
        {"status": "completed", "use_myanimelist_id": False, "notes": "n"},
        {"status": "completed"},
    ]
    entries = [
        Decision(**{**marks, "media": ANIME, "mal_id": n, "verdict": Verdict.SEND, "payload": b})
        for n, b in enumerate(bodies, start=1)
    ]
    rows = assign_titles(entries, NO_IDS)
    titled = {"payload", "anisearch_id", "id_source", "members", "parts"}
    for row, entry in zip(rows, entries, strict=True):
        assert {name: getattr(row, name) for name in marks if name not in titled} == {
            name: getattr(entry, name) for name in marks if name not in titled
        }
    assert [(row.anisearch_id, row.id_source, row.members, row.parts) for row in rows] == [
        (None, IdSource.MAL_ID, (n,), ()) for n in (1, 2, 3)
    ]
    assert [row.payload for row in rows] == [
        {"status": "completed", "use_myanimelist_id": True},
        {"status": "completed", "use_myanimelist_id": True, "notes": "n"},
        {"status": "completed", "use_myanimelist_id": True},
    ]
    assert [entry.payload for entry in entries] == bodies  # not changed in place
    assert [list(row.payload or {}) for row in rows[1:]] == [
        ["status", "use_myanimelist_id", "notes"],
        ["status", "use_myanimelist_id"],
    ]


def test_entries_by_mal_id_and_by_title_keep_the_order_they_came_in() -> None:
    """Entries by their MAL id (manga: no links) between entries found by their titles: each
    row where its entry came, a bundle's where its first member came; an entry listed again
    is sent from its last appearance, the earlier row left as it was."""

    def manga(mal_id: int) -> Decision:
        return Decision(MediaType.MANGA, mal_id, f"M{mal_id}", "m.xml", Verdict.SEND, body(), ())

    earlier = manga(3)
    ids = IdLookup(hand={**IDS.hand, MediaType.MANGA: {4: 40}}, links=IDS.links)
    rows = titled(earlier, send(384), manga(3), send(9), manga(4), send(1010), manga(5), ids=ids)
    assert [(row.media.value, row.mal_id, row.id_source, row.request_key) for row in rows] == [
        ("manga", 3, None, ("mal", MediaType.MANGA, 3)),
        ("anime", 384, IdSource.MAL_LINKS, ("title", ANIME, 500)),
        ("anime", 1010, IdSource.MAL_LINKS, ("title", ANIME, 500)),
        ("manga", 3, IdSource.MAL_ID, ("mal", MediaType.MANGA, 3)),
        ("anime", 9, IdSource.HAND_MAPPING, ("title", ANIME, 900)),
        ("manga", 4, IdSource.HAND_MAPPING, ("title", MediaType.MANGA, 40)),
        ("manga", 5, IdSource.MAL_ID, ("mal", MediaType.MANGA, 5)),
    ]
    assert rows[0] is earlier


def test_a_title_is_unchanged_by_its_own_memory_and_an_entry_from_before_the_links_too() -> None:
    [single] = titled(send(1, episodes_watched=26))
    sent_by_mal_id = payload_hash({**(single.payload or {}), "use_myanimelist_id": True})
    before_links = Baseline(accepted={(ANIME, 1): sent_by_mal_id})
    assert decide([single], before_links, Policy())[0].verdict is Verdict.UNCHANGED
    # Once the title is kept, its own memory decides.
    other = KeptTitle((1,), "another body", Outcome.UPLOADED, 0.0)
    both = Baseline(accepted={(ANIME, 1): sent_by_mal_id}, titles={(ANIME, 101): other})
    assert decide([single], both, Policy())[0].verdict is Verdict.SEND
    # A bundle's members never inherit an entry's memory: the title held one of them at most.
    bundle = titled(send(384), send(1010))
    member_hashes = {
        (ANIME, 384): payload_hash(send(384).payload or {}),
        (ANIME, 1010): payload_hash(send(1010).payload or {}),
    }
    decided = decide(bundle, Baseline(accepted=member_hashes), Policy())
    assert [row.verdict for row in decided] == [Verdict.SEND, Verdict.SEND]
    kept = KeptTitle((384, 1010), payload_hash(bundle[0].payload or {}), Outcome.UPLOADED, 0.0)
    again = decide(bundle, Baseline(titles={(ANIME, 500): kept}), Policy())
    assert [row.verdict for row in again] == [Verdict.UNCHANGED, Verdict.UNCHANGED]


def test_a_title_aniSearch_did_not_have_waits_and_a_changed_mapping_is_asked_at_once() -> None:
    day = 86400.0
    unknown = KeptTitle((9,), None, Outcome.NOT_FOUND, 100 * day)
    baseline = Baseline(titles={(ANIME, 900): unknown}, now=101 * day)
    [mapped] = titled(send(9))
    waits = decide([mapped], baseline, Policy())[0]
    assert waits.verdict is Verdict.UNMATCHED
    assert "aniSearch had no anime with id 900" in (waits.reason or "")
    assert "change its line in [mappings]" in (waits.reason or "")
    remapped = IdLookup(hand={ANIME: {9: 901}}, links=IDS.links)
    [changed] = titled(send(9), ids=remapped)
    assert decide([changed], baseline, Policy())[0].verdict is Verdict.SEND
    # A MAL id aniSearch did not know by MAL id is asked by aniSearch id once it is mapped.
    by_mal = Baseline(unmatched={(ANIME, 9): 100 * day}, now=101 * day)
    assert decide([mapped], by_mal, Policy())[0].verdict is Verdict.SEND


def held(*anisearch_ids: int) -> AniSearchRatings:
    ratings = [
        anisearch_rating({"id-anisearch": each, "id-myanimelist": None}) for each in anisearch_ids
    ]
    return AniSearchRatings.build({ANIME: [r for r in ratings if r is not None]})


# The list being read, "t", wrote every title the tests' checkpoints know.
DELETING = Policy(delete_missing=True, media=frozenset({ANIME}), lists={ANIME: frozenset({"t"})})


def written_by_t(*titles: tuple[int, str]) -> dict[str, Any]:
    """Baseline fields for titles malsync wrote from list "t"."""
    keys = {(ANIME, mal_id): title for mal_id, title in titles}
    return {"written": keys, "writers": dict.fromkeys(keys, "t")}


def deletions(plan: list[Decision], baseline: Baseline) -> list[tuple[int | None, int | None]]:
    policy = DELETING
    decided = decide(plan, baseline, policy)
    return [(d.mal_id, d.anisearch_id) for d in decided if d.verdict is Verdict.DELETE]


def test_a_title_is_deleted_only_when_none_of_its_entries_is_listed() -> None:
    kept = KeptTitle((384, 1010), "h", Outcome.UPLOADED, 0.0, written=True)
    written = written_by_t((384, "Gantz"), (1010, "Gantz 2nd Stage"), (1, "Bebop"))
    baseline = Baseline(**written, titles={(ANIME, 500): kept}, ids=IDS, anisearch=held(500, 101))
    assert deletions(titled(send(1010), send(1)), baseline) == []  # the bundle has a member
    # The member left is listed, but goes elsewhere now: the title is still spared.
    elsewhere = IdLookup(links={ANIME: {1010: (600,), 1: (101,)}})
    assert deletions(titled(send(1010), send(1), ids=elsewhere), baseline) == []
    gone = deletions(titled(send(1)), baseline)
    assert gone == [(384, 500), (1010, 500)]  # one title: one DELETE, a row per member
    decided = decide(titled(send(1)), baseline, DELETING)
    keys = {d.request_key for d in decided if d.verdict is Verdict.DELETE}
    assert keys == {("title", ANIME, 500)}
    # Written before the links were kept: the links say where it went.
    legacy = Baseline(**written_by_t((384, "Gantz")), ids=IDS, anisearch=held(500))
    assert deletions(titled(send(1010)), legacy) == []
    assert deletions(titled(send(1)), legacy) == [(384, 500)]
    already = decide(
        titled(send(1)),
        Baseline(**written_by_t((384, "Gantz")), ids=IDS, anisearch=held()),
        DELETING,
    )
    assert [d.verdict for d in already if d.mal_id == 384] == [Verdict.GONE]
    # A member another list wrote holds the title too, though this list does not list it.
    bobs = written_by_t((384, "Gantz"), (1010, "Gantz 2nd Stage"))
    bobs["writers"][(ANIME, 1010)] = "bob"
    shared = Baseline(**bobs, titles={(ANIME, 500): kept}, ids=IDS, anisearch=held(500))
    assert deletions(titled(send(1)), shared) == []


def test_one_request_for_a_bundle_settles_every_member_and_the_title(tmp_path: Path) -> None:
    rows = titled(send(384, episodes_watched=12), send(1010, episodes_watched=13), send(1))
    session = ScriptedSession(OK, OK)
    with Checkpoint.open(tmp_path / "s.db") as checkpoint:
        run = checkpoint.start_run([])
        execution = execute(rows, session, checkpoint, run)
        for settled in session.settled:  # as the session's journal stores them with the answers
            assert settled is not None
            checkpoint.settle(settled)
        titles = checkpoint.kept_titles()
        written = checkpoint.written_titles()
        changes = checkpoint.changes(run)
        entry_hashes = checkpoint.accepted_hashes()
    assert session.calls == [("PUT", 500), ("PUT", 101)]
    assert [result.outcome for result in execution.results.values()] == [Outcome.UPLOADED] * 3
    merged = rows[0].payload or {}
    assert titles[(ANIME, 500)].members == (384, 1010)
    assert titles[(ANIME, 500)].accepted_hash == payload_hash(merged)
    assert set(written) == {(ANIME, 384), (ANIME, 1010), (ANIME, 1)}
    assert entry_hashes == {}  # by aniSearch id, the title keeps the body, not the entries
    assert [(c.key, c.anisearch_id, c.by_title) for c in changes] == [
        ((ANIME, 384), 500, True),
        ((ANIME, 1), 101, True),
    ]


def test_a_title_gone_forgets_its_body_and_keeps_who_went_into_it(tmp_path: Path) -> None:
    with Checkpoint.open(tmp_path / "s.db") as checkpoint:
        title = {"title_id": 500, "members": (384, 1010)}
        checkpoint.settle(
            Settlement((ANIME, 384), "Gantz", Outcome.UPLOADED, 1, "h1", written=True, **title)
        )
        failed = Settlement(
            (ANIME, 384), "Gantz", Outcome.NOT_FOUND, 2, title_id=500, members=(384,)
        )
        checkpoint.settle(failed)
        assert checkpoint.kept_titles()[(ANIME, 500)].members == (384, 1010)
        checkpoint.settle(
            Settlement((ANIME, 384), "Gantz", Outcome.DELETED, 3, written=False, title_id=500)
        )
        gone = checkpoint.kept_titles()[(ANIME, 500)]
    assert (gone.accepted_hash, gone.members, gone.outcome) == (None, (384, 1010), Outcome.DELETED)


def test_restore_undoes_a_title_once_found_by_its_anisearch_id() -> None:
    """Two runs wrote one bundle, under different first members: one step, from the first run's
    backup, found by aniSearch id although GET shows another MAL id (or none)."""
    first = ChangeRecord((ANIME, 384), Action.UPSERT, 500, True, {"status": "x"}, by_title=True)
    later = ChangeRecord((ANIME, 1010), Action.UPSERT, 500, True, {"status": "y"}, by_title=True)
    shown_as = {"id-anisearch": 500, "id-myanimelist": 1010}
    before = AniSearchRatings.from_raw({"anime": [{**shown_as, "status": "ongoing"}]})
    between = AniSearchRatings.from_raw({"anime": [{**shown_as, "status": "x"}]})
    now = AniSearchRatings.from_raw({"anime": [{**shown_as, "status": "y"}]})
    backups = [Backup(Path("b1"), 1, before), Backup(Path("b2"), 2, between)]
    steps = plan_runs(backups, {1: [first], 2: [later]}, now, {})
    assert [(s.anisearch_id, s.body, s.run_id, s.by_title) for s in steps] == [
        (500, {"status": "ongoing", "use_myanimelist_id": False}, 1, True)
    ]


def test_a_checkpoint_of_schema_five_gets_the_titles(tmp_path: Path) -> None:
    path = tmp_path / "v5.db"
    with Checkpoint.open(path) as checkpoint:
        checkpoint.settle(Settlement((ANIME, 1), "Bebop", Outcome.UPLOADED, 1, "h", written=True))
    db = sqlite3.connect(path)
    db.executescript("DROP TABLE titles; UPDATE meta SET value = '5' WHERE key = 'schema';")
    db.close()
    with Checkpoint.open(path, create=False) as checkpoint:
        assert checkpoint.accepted_hashes() == {(ANIME, 1): "h"}
        assert checkpoint.kept_titles() == {}
    db = sqlite3.connect(path)
    tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
    assert "titles" in tables
    db.close()


class _Live:
    """A live list that lists these MAL ids when it is read again."""

    def __init__(self, *mal_ids: int) -> None:
        self.mal_ids = mal_ids

    def read(self) -> _Live:
        return self

    @property
    def entries(self) -> list[InvalidEntry]:
        # What the guard looks at is an entry's media and MAL id: a listed title.
        return [InvalidEntry(ANIME, mal_id, "T", "-", "live") for mal_id in self.mal_ids]


def test_a_live_list_read_again_keeps_a_title_any_member_of_which_is_listed_after_all() -> None:
    kept = KeptTitle((384, 1010), "h", Outcome.UPLOADED, 0.0, written=True)
    # Gantz 2nd Stage went into the title, but only Gantz is a row of the deletion.
    written = written_by_t((384, "Gantz"), (1, "Bebop"))
    baseline = Baseline(**written, titles={(ANIME, 500): kept}, ids=IDS, anisearch=held(500, 101))
    decided = decide(titled(send(6)), baseline, DELETING)
    assert {d.request_key for d in decided if d.verdict is Verdict.DELETE} == {
        ("title", ANIME, 500),
        ("title", ANIME, 101),
    }
    again = deletions_still_gone([_Live(6, 1010)], decided)
    left = [(d.mal_id, d.anisearch_id) for d in again if d.verdict is Verdict.DELETE]
    assert left == [(1, 101)]  # the bundle stays: one of the MAL entries in it is listed
