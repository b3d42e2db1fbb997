"""What each conflict policy would make of the same plan, so that a dry run can show, title by
title, where choosing another `--on-conflict` would change what is sent.

Pure: the plan is decided once per policy against the same baseline; nothing is read or sent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from malsync.config.settings import ConflictPolicy
from malsync.pipeline.planner import Baseline, Decision, Policy, Verdict, decide


def effect(decision: Decision) -> str | None:
    """What a decision does to aniSearch, in a few words; None where no policy has a say."""
    fields = ", ".join(name for name, _, _ in decision.changes)
    if decision.verdict is Verdict.SEND:
        if decision.existed is False:
            return "create it"
        return f"send {fields}" if fields else "send it"
    if decision.verdict is Verdict.UNCHANGED:
        return "nothing to send"
    if decision.verdict is Verdict.KEPT:
        return "leave it deleted" if decision.existed is False else f"keep aniSearch's {fields}"
    return None


def with_policy_choices(
    plan: Sequence[Decision], baseline: Baseline, policy: Policy
) -> list[Decision]:
    """`decide` under the run's policy, where each title that another policy would treat
    otherwise carries what every policy would do (`by_policy`)."""
    decided = {
        choice: decide(plan, baseline, replace(policy, on_conflict=choice))
        for choice in ConflictPolicy
    }
    shown = []
    for index, decision in enumerate(decided[policy.on_conflict]):
        effects = tuple(
            (choice.value, effect(decisions[index])) for choice, decisions in decided.items()
        )
        said = {text for _, text in effects}
        differ = index < len(plan) and None not in said and len(said) > 1
        by_policy = tuple((name, text or "") for name, text in effects) if differ else ()
        shown.append(replace(decision, by_policy=by_policy) if differ else decision)
    return shown
