"""`python -m handoff.service.insights.miner`: what customers ask that the bot can't answer yet.

    python -m handoff.service.insights.miner groups [--since 2024-05-01]
        [--sort volume|handling] [--json]
    python -m handoff.service.insights.miner export GROUP_ID [GROUP_ID ...] --out draft.yml
        [--since ...]

Reads Rasa's tracker store in the Redis of `REDIS_URL` (key prefix `hfv1`, endpoints.yml).
Group ids are ranks: `export` recomputes the groups, so give it the same `--since`/`--sort`.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from redis.exceptions import RedisError

from handoff.keys import Keys
from handoff.redis_client import connect
from handoff.service.insights.knowledge import GoodAnswers
from handoff.service.insights.miner.export import attach_good_answers, draft_yaml
from handoff.service.insights.miner.grouping import Group, Mining, mine
from handoff.service.insights.miner.source import read_messages
from handoff.settings import Settings


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Runs one subcommand; returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        since = _date(args.since) if args.since else None
        mining, unplaced = asyncio.run(_mine(args.redis_url, args.tracker_prefix, since,
                                             args.sort))
        if args.command == "groups":
            print(render_json(mining, unplaced) if args.json else render_text(mining, unplaced))
            return 0
        chosen = _chosen(mining.groups, args.group_ids)
        Path(args.out).write_text(draft_yaml(chosen, args.intent), encoding="utf-8")
        print(f"wrote {args.out}: {sum(g.volume for g in chosen)} examples from group(s) "
              + ", ".join(g.id for g in chosen))
        return 0
    except (ValueError, LookupError, OSError, RedisError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


async def _mine(redis_url: str, tracker_prefix: str, since: Optional[float], sort: str
                ) -> tuple[Mining, List[Dict[str, str]]]:
    redis = connect(redis_url)
    try:
        messages = await read_messages(redis, tracker_prefix, since)
        pairs = await GoodAnswers(redis, Keys()).list()
    finally:
        await redis.close(close_connection_pool=True)
    if not messages and not pairs:
        raise LookupError(f"no handed-off or fallback message in {redis_url} "
                          f"(tracker keys {tracker_prefix}:tracker:*)")
    mining = mine(messages, sort=sort)
    return mining, attach_good_answers(mining.groups, pairs)


def render_text(mining: Mining, unplaced: List[Dict[str, str]]) -> str:
    """Groups ranked, one block each, for a terminal."""
    lines: List[str] = []
    for group in mining.groups:
        median = group.handling_time_median
        lines.append(f"#{group.id} [{group.language}] {group.intent_name}: {group.volume} "
                     f"messages, {len(group.conversations)} conversations, handling "
                     f"{_minutes(group.handling_time_total)} total"
                     + (f", {_minutes(median)} median" if median is not None else ""))
        lines.extend(f"    “{phrase}”" for phrase in group.typical)
        for pair in group.good_answers:
            lines.append(f"    good answer ({pair['agent']}): {pair['answer']}")
    lines.append(f"{len(mining.ungrouped)} message(s) in no group")
    for pair in unplaced:
        lines.append(f"candidate FAQ ({pair['agent']}): {pair['question']} -> {pair['answer']}")
    return "\n".join(lines)


def render_json(mining: Mining, unplaced: List[Dict[str, str]]) -> str:
    """Groups ranked, as JSON (for a page or a script)."""
    return json.dumps({"groups": [_group_json(g) for g in mining.groups],
                       "ungrouped": mining.ungrouped, "candidate_faq": unplaced},
                      ensure_ascii=False, indent=2)


def _group_json(group: Group) -> Dict[str, Any]:
    data = asdict(group)
    data.update(volume=group.volume, intent_name=group.intent_name)
    return data


def _chosen(groups: List[Group], ids: List[str]) -> List[Group]:
    by_id = {g.id: g for g in groups}
    missing = [i for i in ids if i not in by_id]
    if missing:
        raise LookupError(f"no group {', '.join(missing)}: there are {len(groups)} groups "
                          "(run `groups` with the same --since and --sort)")
    return [by_id[i] for i in ids]


def _date(text: str) -> float:
    try:
        day = datetime.date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"--since wants a date as YYYY-MM-DD, not {text!r}") from None
    return datetime.datetime(day.year, day.month, day.day).timestamp()


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} min"


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--redis-url", default=Settings.from_env().redis_url)
    common.add_argument("--tracker-prefix", default="hfv1",
                        help="key_prefix of the tracker store in endpoints.yml")
    common.add_argument("--since", help="only messages from this day on (YYYY-MM-DD)")
    common.add_argument("--sort", choices=["volume", "handling"], default="volume")
    parser = argparse.ArgumentParser(prog="python -m handoff.service.insights.miner",
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    groups = commands.add_parser("groups", parents=[common],
                                 help="groups, ranked, with typical phrases")
    groups.add_argument("--json", action="store_true")
    export = commands.add_parser("export", parents=[common],
                                 help="a draft NLU intent and FAQ answer")
    export.add_argument("group_ids", nargs="+", metavar="GROUP_ID")
    export.add_argument("--out", required=True, help="the draft YAML file to write")
    export.add_argument("--intent", default="", help="the intent name (default: from the group)")
    return parser


if __name__ == "__main__":
    sys.exit(main())
