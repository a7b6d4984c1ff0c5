"""`action_goodbye`: the bot closes the conversation, and asks the satisfaction survey.

The customer said goodbye: the bot says goodbye (`utter_goodbye`), then asks the first survey
question (CSAT) with its choices (`handoff.survey`). The answers come back as payloads that the
channels take before Rasa (`handoff.survey.SurveyResponder`): they never reach the NLU.
A customer who says goodbye twice within an hour is asked once.
"""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from redis.exceptions import RedisError

from actions import deps
from handoff.survey import SurveyStore, channel_name, question_message

logger = logging.getLogger(__name__)

# Channels whose customers see buttons or quick replies (the REST channel, used by tools and
# benchmarks, has no buttons to tap).
SURVEYED_CHANNELS = ("socketio", "messenger")


class ActionGoodbye(Action):
    """Says goodbye, then asks the CSAT question (closed_by=bot, no agent)."""

    def name(self) -> Text:
        """The action's name in the domain."""
        return "action_goodbye"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        """The goodbye always; the survey when the channel can show it and Redis answers."""
        dispatcher.utter_message(response="utter_goodbye")
        input_channel = tracker.get_latest_input_channel()
        if input_channel not in SURVEYED_CHANNELS:
            return []
        language = tracker.get_slot("language") if tracker.get_slot("language") in (
            "en", "fr") else "en"
        try:
            survey_id = await SurveyStore(*deps.redis_and_keys()).start_for_bot_close(
                conversation_id=tracker.sender_id, channel=channel_name(input_channel),
                language=language)
        except RedisError as exc:
            # The goodbye matters more than the survey: said without it.
            logger.warning("survey.start.failure conversation=%s error=%s", tracker.sender_id,
                           exc)
            return []
        if survey_id is None:
            return []
        question = question_message(survey_id, "csat", language)
        dispatcher.utter_message(text=question["text"], quick_replies=question["quick_replies"],
                                 survey=survey_id)
        logger.info("survey.asked conversation=%s survey=%s closed_by=bot", tracker.sender_id,
                    survey_id)
        return []
