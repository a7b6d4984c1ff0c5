"""The customer satisfaction survey asked when a conversation closes: texts, answers, storage.

When an agent closes a conversation (`handoff.service.api.routes.close`) or the bot does (the
customer says
goodbye: `actions/survey.py`), the customer is asked, in their language and on their channel:
1. CSAT, "how satisfied are you?" (1–5), with a "No thanks" choice;
2. NPS, "how likely are you to recommend us?" (0–10: 11 choices + "No thanks", within
   Messenger's 13 quick replies);
3. whether they want to add a comment ("Add a comment" / "No thanks"); after "Add a comment",
   their next text is the comment;
then thanked. Each choice is a button (web) or quick reply (Messenger) whose payload names the
survey, the question and the value (`survey:<id>:csat:4`). The channels recognise these payloads
before Rasa sees them (`SurveyResponder.respond`): answering or declining never reaches the NLU
and changes nothing else in the conversation. A customer who ignores the survey and writes
something else is answered by the bot as usual; the survey stays unanswered.

The stored record (`Keys.survey`, one hash per survey; `Keys.surveys` orders them by time asked)
keeps the conversation, its channel and language, who closed it, the agent and team, the handoff
reason and intent, so that the dashboard can group scores by team or reason (`SurveyStore.between`).
The record is the truth and the sorted set its index: off a Redis Cluster both are written (or
deleted) in one MULTI; on a Cluster, where they are in different slots, the index entry is
written before the record and taken out after it, so that a process that dies in between leaves
an entry too many (`between` skips ids without a record), never a survey missing. Answers are
one Lua step on the record alone.
"""

from __future__ import annotations

import re
import time
import uuid
from typing import Any, Dict, List, Optional, Tuple

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from handoff.keys import Keys
from handoff.redis_client import is_cluster

# The stored fields, as the dashboard reads them (`SurveyStore.between` returns exactly these).
FIELDS = ("survey_id", "conversation_id", "channel", "language", "closed_by", "agent",
          "agent_name", "team", "reason", "intent", "ticket_id", "asked_at", "csat", "nps",
          "comment", "declined", "answered_at")
CHANNELS = ("web", "messenger")
LANGUAGES = ("fr", "en")
CLOSED_BY = ("bot", "agent")
COMMENT_MAX = 1000
COMMENT_WAIT = 3600  # seconds: after "Add a comment", the next text within an hour is the comment
BOT_SURVEY_EVERY = 3600  # seconds: a customer who says goodbye twice is asked once

# The question now waiting for an answer (internal field `step`; `done` once finished).
STEPS = ("csat", "nps", "comment", "done")

PAYLOAD_PREFIX = "survey:"
_PAYLOAD = re.compile(r"^survey:([^:\s]{1,64}):(csat|nps|comment|decline)(?::([^:\s]{0,16}))?$")

TEXTS: Dict[str, Dict[str, str]] = {
    "csat": {
        "en": "Before you go: how satisfied are you with this conversation? "
              "(1 = not at all, 5 = very satisfied)",
        "fr": "Avant de partir : êtes-vous satisfait de cet échange ? "
              "(1 = pas du tout, 5 = très satisfait)",
    },
    "nps": {
        "en": "How likely are you to recommend us to a friend or colleague? "
              "(0 = not at all likely, 10 = extremely likely)",
        "fr": "Quelle est la probabilité que vous nous recommandiez à un ami ou un collègue ? "
              "(0 = pas du tout probable, 10 = très probable)",
    },
    "comment_offer": {
        "en": "Would you like to add a comment?",
        "fr": "Souhaitez-vous ajouter un commentaire ?",
    },
    "comment_prompt": {
        "en": "Please write your comment in one message.",
        "fr": "Écrivez votre commentaire en un seul message.",
    },
    "thanks": {
        "en": "Thank you for your answers! Write to us any time if you need anything.",
        "fr": "Merci pour vos réponses ! Écrivez-nous à tout moment si besoin.",
    },
    "declined": {
        "en": "No problem, thank you. Write to us any time if you need anything.",
        "fr": "Pas de souci, merci. Écrivez-nous à tout moment si besoin.",
    },
    "closed_survey": {
        "en": "This survey is closed, so that answer was not recorded. Thank you all the same! "
              "Write to us any time if you need anything.",
        "fr": "Ce questionnaire est terminé : cette réponse n'a pas été enregistrée. Merci "
              "quand même ! Écrivez-nous à tout moment si besoin.",
    },
    "bad_answer": {
        "en": "That answer is not one of the choices, so it was not recorded. Please use the "
              "buttons.",
        "fr": "Cette réponse ne fait pas partie des choix : elle n'a pas été enregistrée. "
              "Utilisez les boutons.",
    },
    "comment_too_long": {
        "en": "Your comment is longer than 1,000 characters, so it was not recorded. Please "
              "shorten it and send it again.",
        "fr": "Votre commentaire dépasse 1 000 caractères : il n'a pas été enregistré. "
              "Raccourcissez-le et renvoyez-le.",
    },
}
CHOICES: Dict[str, Dict[str, str]] = {
    "no_thanks": {"en": "No thanks", "fr": "Non merci"},
    "add_comment": {"en": "Add a comment", "fr": "Commenter"},  # Messenger: 20 characters
}


class SurveyError(ValueError):
    """An answer that cannot be stored: `code` is `unknown_survey`, `finished` or `bad_value`."""

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code


def text(kind: str, language: str) -> str:
    """One of `TEXTS` in the customer's language (English when the language is unknown)."""
    return TEXTS[kind].get(language, TEXTS[kind]["en"])


def channel_name(input_channel: Optional[str]) -> str:
    """A Rasa input channel's name as the survey records it (`web` or `messenger`)."""
    return "messenger" if input_channel == "messenger" else "web"


def payload(survey_id: str, question: str, value: str = "") -> str:
    """The button payload of one choice."""
    return f"{PAYLOAD_PREFIX}{survey_id}:{question}" + (f":{value}" if value else "")


def parse_payload(message: Any) -> Optional[Tuple[str, str, str]]:
    """(survey id, question, value) of a survey payload; None for any other message.

    Anything that starts with `survey:` is taken for a survey payload (a malformed one gets
    `("", "", "")`, i.e. an unknown survey), so that it never reaches the bot.
    """
    if not isinstance(message, str) or not message.startswith(PAYLOAD_PREFIX):
        return None
    found = _PAYLOAD.match(message.strip())
    if found is None:
        return "", "", ""
    return found.group(1), found.group(2), found.group(3) or ""


def question_message(survey_id: str, step: str, language: str) -> Dict[str, Any]:
    """The message asking `step` (`csat`, `nps`, `comment`), with its choices.

    `{"text", "quick_replies": [{"content_type", "title", "payload"}]}`: Rasa's output
    channels send `quick_replies` as buttons on the web page and quick replies on Messenger.
    """
    no_thanks = CHOICES["no_thanks"].get(language, CHOICES["no_thanks"]["en"])
    if step == "csat":
        values, kind = [str(n) for n in range(1, 6)], "csat"
        choices = [(v, payload(survey_id, "csat", v)) for v in values]
        choices.append((no_thanks, payload(survey_id, "decline")))
    elif step == "nps":
        kind = "nps"
        choices = [(str(n), payload(survey_id, "nps", str(n))) for n in range(0, 11)]
        choices.append((no_thanks, payload(survey_id, "decline")))
    elif step == "comment":
        kind = "comment_offer"
        add = CHOICES["add_comment"].get(language, CHOICES["add_comment"]["en"])
        choices = [(add, payload(survey_id, "comment", "add")),
                   (no_thanks, payload(survey_id, "comment", "skip"))]
    else:
        raise ValueError(f"no question for step {step!r}")
    return {"text": text(kind, language),
            "quick_replies": [{"content_type": "text", "title": title, "payload": p}
                              for title, p in choices]}


def question_event(survey_id: str, step: str, language: str) -> Dict[str, Any]:
    """The question as a `bot` event for Rasa's tracker/events API.

    It is sent on the customer's channel, and in the conversation's record.
    """
    message = question_message(survey_id, step, language)
    return {"event": "bot", "text": message["text"],
            "data": {"quick_replies": message["quick_replies"]},
            "metadata": {"survey": survey_id}}


def survey_context(conversation_id: str, channel: Optional[str], language: str,
                   conversation: Dict[str, Any], ticket: Optional[Dict[str, Any]],
                   ) -> Optional[Dict[str, Any]]:
    """What `SurveyStore.start` records when an agent closes.

    It is None on a channel without buttons (e.g. Rasa's REST channel, used by tools).

    `conversation`: the conversation's public record (agent, agent_name, team, ticket_id);
    `ticket`: the ticket's public form, or None.
    """
    if channel not in ("socketio", "messenger"):
        return None
    ranking = (ticket or {}).get("intent_ranking") or []
    return {"conversation_id": conversation_id, "channel": channel_name(channel),
            "language": language, "agent": conversation.get("agent") or "",
            "agent_name": conversation.get("agent_name") or "",
            "team": conversation.get("team") or "", "reason": (ticket or {}).get("reason") or "",
            "intent": (ranking[0].get("name") if ranking and isinstance(ranking[0], dict)
                       else "") or "",
            "ticket_id": (ticket or {}).get("ticket_id") or conversation.get("ticket_id") or ""}


def shown_answer(parsed: Tuple[str, str, str], language: str) -> str:
    """What the customer chose, as the button read (for the conversation's journal)."""
    _, question, value = parsed
    if question == "decline" or (question == "comment" and value == "skip"):
        return CHOICES["no_thanks"].get(language, CHOICES["no_thanks"]["en"])
    if question == "comment" and value == "add":
        return CHOICES["add_comment"].get(language, CHOICES["add_comment"]["en"])
    return value


# Stores an answer if the survey is open and that question is not answered yet (a repeated
# tap is recorded once). KEYS: survey hash. ARGV: field, value, next step, now.
_ANSWER = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 'unknown_survey' end
local current = redis.call('HGET', KEYS[1], ARGV[1])
if current and current ~= '' then return 'repeat' end
if redis.call('HGET', KEYS[1], 'step') == 'done' then return 'finished' end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2], 'step', ARGV[3], 'answered_at', ARGV[4])
return 'ok'
"""
# Moves a survey from `expected` step(s) to `done` (declined or comment skipped).
# KEYS: survey hash. ARGV: declined flag ("1" or ""), now.
_FINISH = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 'unknown_survey' end
if redis.call('HGET', KEYS[1], 'step') == 'done' then return 'repeat' end
redis.call('HSET', KEYS[1], 'step', 'done', 'answered_at', ARGV[2])
if ARGV[1] == '1' then redis.call('HSET', KEYS[1], 'declined', '1') end
return 'ok'
"""
_NEXT = {"csat": "nps", "nps": "comment", "comment": "done"}


class SurveyStore:
    """Surveys in Redis: one hash each, and a sorted set of them by the time they were asked."""

    def __init__(self, redis: Redis, keys: Keys) -> None:
        self._redis, self._keys = redis, keys
        self._multi = not is_cluster(redis)  # off a Cluster, record and index in one MULTI

    async def start(self, *, conversation_id: str, channel: str, language: str,
                    closed_by: str, agent: str = "", agent_name: str = "", team: str = "",
                    reason: str = "", intent: str = "", ticket_id: str = "",
                    asked_at: Optional[float] = None) -> str:
        """Records a survey about to be asked; its id."""
        if channel not in CHANNELS or closed_by not in CLOSED_BY or not conversation_id:
            raise SurveyError("bad_value", f"channel={channel} closed_by={closed_by}")
        survey_id = uuid.uuid4().hex
        asked = time.time() if asked_at is None else float(asked_at)
        record = {"survey_id": survey_id, "conversation_id": conversation_id,
                  "channel": channel, "language": language if language in LANGUAGES else "en",
                  "closed_by": closed_by, "agent": agent or "", "agent_name": agent_name or "",
                  "team": team or "", "reason": reason or "", "intent": intent or "",
                  "ticket_id": ticket_id or "", "asked_at": repr(asked), "csat": "", "nps": "",
                  "comment": "", "declined": "0", "answered_at": "", "step": "csat"}
        if self._multi:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.hset(self._keys.survey(survey_id), mapping=record)
                pipe.zadd(self._keys.surveys(), {survey_id: asked})
                await pipe.execute()
        else:
            await self._redis.zadd(self._keys.surveys(), {survey_id: asked})
            await self._redis.hset(self._keys.survey(survey_id), mapping=record)
        return survey_id

    async def start_for_bot_close(self, **context: Any) -> Optional[str]:
        """`start`, unless this conversation was asked in the last hour (goodbye said twice)."""
        conversation_id = context["conversation_id"]
        if not await self._redis.set(self._keys.survey_recent(conversation_id), "1", nx=True,
                                     ex=BOT_SURVEY_EVERY):
            return None
        return await self.start(closed_by="bot", **context)

    async def discard(self, survey_id: str) -> None:
        """Forgets a survey that could not be asked (the customer never saw it)."""
        if self._multi:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.delete(self._keys.survey(survey_id))
                pipe.zrem(self._keys.surveys(), survey_id)
                await pipe.execute()
        else:
            await self._redis.delete(self._keys.survey(survey_id))
            await self._redis.zrem(self._keys.surveys(), survey_id)

    async def get(self, survey_id: str) -> Optional[Dict[str, str]]:
        """The whole record (with the internal `step`), or None."""
        if not survey_id:
            return None
        record = await self._redis.hgetall(self._keys.survey(survey_id))
        return record or None

    async def answer(self, survey_id: str, question: str, value: Any) -> bool:
        """Stores one answer; False when that question already had one (a repeated tap).

        `csat`: int 1–5, `nps`: int 0–10, `comment`: text of at most 1,000 characters.
        Raises `SurveyError` (`unknown_survey`, `finished`, `bad_value`), storing nothing.
        """
        stored = _valid(question, value)
        result = await self._redis.eval(_ANSWER, 1, self._keys.survey(survey_id), question,
                                        stored, _NEXT[question], repr(time.time()))
        if result in ("unknown_survey", "finished"):
            raise SurveyError(result, survey_id)
        return result == "ok"

    async def decline(self, survey_id: str) -> bool:
        """The customer said "No thanks": stored as declined; False if it was already over."""
        return await self._finish(survey_id, declined=True)

    async def skip_comment(self, survey_id: str) -> bool:
        """The customer wants no comment: the survey is done; False if it was already over."""
        return await self._finish(survey_id, declined=False)

    async def _finish(self, survey_id: str, declined: bool) -> bool:
        result = await self._redis.eval(_FINISH, 1, self._keys.survey(survey_id),
                                        "1" if declined else "", repr(time.time()))
        if result == "unknown_survey":
            raise SurveyError(result, survey_id)
        return result == "ok"

    async def expect_comment(self, conversation_id: str, survey_id: str) -> None:
        """The customer chose "Add a comment": their next text (within an hour) is it."""
        await self._redis.set(self._keys.survey_comment(conversation_id), survey_id,
                              ex=COMMENT_WAIT)

    async def comment_expected(self, conversation_id: str) -> Optional[str]:
        """The survey whose comment this conversation's next text is (taken: asked once)."""
        return await self._redis.getdel(self._keys.survey_comment(conversation_id))

    def comment_pending_on(self, pipe: Pipeline, conversation_id: str) -> None:
        """Queues a look (not a take) at `comment_expected`: its reply is the survey id or None."""
        pipe.get(self._keys.survey_comment(conversation_id))

    async def between(self, start: float, end: float) -> List[Dict[str, str]]:
        """Surveys asked in [start, end), oldest first, with exactly the fields of `FIELDS`."""
        ids = await self._redis.zrangebyscore(self._keys.surveys(), start, f"({end}")
        if not ids:
            return []
        async with self._redis.pipeline(transaction=False) as pipe:
            for survey_id in ids:
                pipe.hmget(self._keys.survey(survey_id), FIELDS)
            rows = await pipe.execute()
        return [{field: value or "" for field, value in zip(FIELDS, row, strict=True)}
                for row in rows if row and row[0]]


def _valid(question: str, value: Any) -> str:
    """The answer as stored, or `SurveyError("bad_value")`."""
    if question == "comment":
        if not isinstance(value, str) or not value.strip() or len(value) > COMMENT_MAX:
            raise SurveyError("bad_value", "comment: 1 to 1000 characters")
        return value.strip()
    bounds = {"csat": (1, 5), "nps": (0, 10)}.get(question)
    if bounds is None:
        raise SurveyError("bad_value", f"unknown question {question!r}")
    if isinstance(value, int) and not isinstance(value, bool):
        number: Optional[int] = value
    elif isinstance(value, str) and re.fullmatch(r"\d{1,2}", value.strip()):
        number = int(value.strip())
    else:
        number = None
    if number is None or not bounds[0] <= number <= bounds[1]:
        raise SurveyError("bad_value", f"{question}: {bounds[0]} to {bounds[1]}")
    return str(number)


class Reply:
    """What a channel does with a survey message: journal `shown`, send `messages`."""

    def __init__(self, shown: str, messages: List[Dict[str, Any]]) -> None:
        self.shown, self.messages = shown, messages

    def __repr__(self) -> str:
        return f"Reply({self.shown!r}, {[m.get('text') for m in self.messages]!r})"


def _say(kind: str, language: Optional[str]) -> Dict[str, Any]:
    if language in LANGUAGES:
        return {"text": text(kind, str(language))}
    # Nobody knows the customer's language (a survey we never asked): both.
    return {"text": f"{TEXTS[kind]['en']}\n\n{TEXTS[kind]['fr']}"}


class SurveyResponder:
    """Takes the customer's survey answers out of the conversation, before Rasa sees them.

    Used by both channels (`bot.web`, `bot.messenger`): `respond` returns None for a message
    that is not about the survey (it goes to the bot as usual), else what to show and send.
    """

    def __init__(self, store: SurveyStore) -> None:
        self._store = store

    def look_on(self, pipe: Pipeline, conversation_id: str) -> None:
        """Queues what `may_respond` needs to know (one reply), for a channel's round trip."""
        self._store.comment_pending_on(pipe, conversation_id)

    @staticmethod
    def may_respond(message: Any, comment_pending: Optional[str]) -> bool:
        """Whether `respond` could take `message`, given `look_on`'s reply.

        False means it would return None: the message is not about the survey.
        """
        return parse_payload(message) is not None or (
            comment_pending is not None and isinstance(message, str) and bool(message.strip()))

    async def respond(self, conversation_id: str, message: Any) -> Optional[Reply]:
        """Records a survey answer in `message` and says what comes next; None if none."""
        parsed = parse_payload(message)
        if parsed is None:
            return await self._comment(conversation_id, message)
        survey_id, question, value = parsed
        record = await self._store.get(survey_id)
        if record is None or record.get("conversation_id") != conversation_id:
            # Unknown, or another conversation's: nothing stored.
            return Reply(str(message), [_say("closed_survey", None)])
        language = record.get("language") or "en"
        shown = shown_answer(parsed, language)
        try:
            messages = await self._answer(record, question, value)
        except SurveyError as exc:
            kind = "bad_answer" if exc.code == "bad_value" else "closed_survey"
            return Reply(shown or str(message), [_say(kind, language)])
        return Reply(shown, messages)

    async def _answer(self, record: Dict[str, str], question: str,
                      value: str) -> List[Dict[str, Any]]:
        survey_id, language = record["survey_id"], record.get("language") or "en"
        if question == "decline":
            if await self._store.decline(survey_id):
                return [_say("declined", language)]
            # Already over: a repeated "No thanks" says nothing; a late one says it is closed.
            return [] if record.get("declined") == "1" else [_say("closed_survey", language)]
        if question in ("csat", "nps"):
            if not await self._store.answer(survey_id, question, value):
                return []  # a repeated tap: recorded once, asked once
            if question == "csat" and not record.get("nps"):
                return [question_message(survey_id, "nps", language)]
            return [question_message(survey_id, "comment", language)]
        if question == "comment" and value == "add":
            if record.get("step") == "done":
                raise SurveyError("finished", survey_id)
            await self._store.expect_comment(record["conversation_id"], survey_id)
            return [_say("comment_prompt", language)]
        if question == "comment" and value == "skip":
            if await self._store.skip_comment(survey_id):
                return [_say("thanks", language)]
            return []
        raise SurveyError("bad_value", f"{question}:{value}")

    async def _comment(self, conversation_id: str, message: Any) -> Optional[Reply]:
        """The customer's text after "Add a comment" is the comment; any other is not ours."""
        if not isinstance(message, str) or not message.strip():
            return None
        survey_id = await self._store.comment_expected(conversation_id)
        record = await self._store.get(survey_id) if survey_id else None
        if record is None:
            return None
        language = record.get("language") or "en"
        try:
            await self._store.answer(record["survey_id"], "comment", message)
        except SurveyError as exc:
            if exc.code == "bad_value":
                # Too long: nothing lost (the customer has the text); the next one is it.
                await self._store.expect_comment(conversation_id, record["survey_id"])
                return Reply(message, [_say("comment_too_long", language)])
            return Reply(message, [_say("closed_survey", language)])
        return Reply(message, [_say("thanks", language)])
