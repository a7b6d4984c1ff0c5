"""`action_send_transcript`: e-mails the customer the transcript of their conversation."""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from redis.exceptions import RedisError

from actions import deps
from actions.orders import customer_language, latest_intent
from handoff import mail
from handoff.redis_client import Script

logger = logging.getLogger(__name__)

WAITING = "transcript_waiting"
MAILS_PER_DAY = 3  # per conversation: the address is the customer's word, so bounded
LIMIT_WINDOW = 24 * 3600

# KEYS: the conversation's count. ARGV: the window (seconds). The day starts with the first
# transcript sent (SET NX keeps its expiry); one step on one key, so one slot on a Cluster too.
_COUNT = """
redis.call('SET', KEYS[1], 0, 'EX', ARGV[1], 'NX')
return redis.call('INCR', KEYS[1])
"""


class ActionSendTranscript(Action):
    """Sends the transcript to the `email` slot, or asks for the address first.

    The address comes from the `email` slot (any message that carries one fills it, see
    domain.yml). Without one, the action asks for it and sets `transcript_waiting`, so that the
    customer's next message, if it gives the address, runs this action again
    (data/rules/transcript.yml). A mail server that is not set up or does not answer is said
    plainly; the customer can ask again later.
    """

    def name(self) -> Text:
        """The action's name in the domain."""
        return "action_send_transcript"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        """Sends the transcript, or asks for the address, or says why it could not."""
        to = mail.valid_address(tracker.get_slot("email"))
        if to is None:
            answering = latest_intent(tracker) != "request_transcript"
            dispatcher.utter_message(response="utter_transcript_email_not_found" if answering
                                     else "utter_ask_transcript_email")
            return [SlotSet(WAITING, True)]
        redis, keys = deps.redis_and_keys()
        counter = keys.transcript_mails(tracker.sender_id)
        try:
            sent_today = int(await redis.get(counter) or 0)
        except RedisError as exc:
            logger.error("transcript.limit.failure conversation=%s error=%s",
                         tracker.sender_id, exc)
            dispatcher.utter_message(response="utter_transcript_failed")
            return [SlotSet(WAITING, False)]
        if sent_today >= MAILS_PER_DAY:
            dispatcher.utter_message(response="utter_transcript_limit")
            return [SlotSet(WAITING, False)]
        settings = deps.mail_settings()
        message = mail.transcript_message(tracker.events, customer_language(tracker), to,
                                          settings.sender or "transcript@localhost",
                                          zone=deps.opening_hours().timezone)
        try:
            await mail.send(message, settings)
        except mail.MailError as exc:
            logger.error("transcript.mail.failure conversation=%s error=%s",
                         tracker.sender_id, exc)
            dispatcher.utter_message(response="utter_transcript_failed")
            return [SlotSet(WAITING, False)]
        logger.info("transcript.mail.sent conversation=%s", tracker.sender_id)
        try:
            await Script(redis, _COUNT)(keys=[counter], args=[LIMIT_WINDOW])
        except RedisError as exc:  # sent: the customer is told so; only the count is missed
            logger.warning("transcript.count.failure conversation=%s error=%s",
                           tracker.sender_id, exc)
        dispatcher.utter_message(response="utter_transcript_sent", email=to)
        return [SlotSet(WAITING, False)]
