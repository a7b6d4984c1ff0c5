"""The first stage of the two-stage fallback: "Did you mean...?" with one-tap buttons.

When the NLU is unsure (``nlu_fallback``), guessing is worse than asking: the customer gets the
likely intents as buttons, plus "Talk to a person", which is always there (principle 1: one tap
reaches a person). A second message that is not understood goes to a person
(data/rules/handoff.yml), so there is no retry loop.

The text comes from the ``utter_suggest_intents`` response (English and French); the button
titles, which depend on the guesses, are here, in both languages.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.orders import customer_language

# The intents worth offering as a button, with their titles. Small talk (greet, thank, chitchat...),
# inform (a bare number or address) and out_of_scope are never offered: tapping them would
# not help the customer. The human path is the fixed last button.
TITLES: Dict[str, Dict[str, str]] = {
    "order_status": {"en": "Where is my order?", "fr": "Où en est ma commande ?"},
    "delivery_times": {"en": "Delivery times", "fr": "Délais de livraison"},
    "returns": {"en": "Returns and refunds", "fr": "Retours et remboursements"},
    "cancel_order": {"en": "Cancel an order", "fr": "Annuler une commande"},
    "change_address": {"en": "Change the delivery address",
                       "fr": "Changer l'adresse de livraison"},
    "payment_methods": {"en": "Payment methods", "fr": "Moyens de paiement"},
    "opening_hours": {"en": "Opening hours", "fr": "Horaires d'ouverture"},
    "contact": {"en": "Contact details", "fr": "Nous contacter"},
    "account_reset": {"en": "Reset my password", "fr": "Réinitialiser mon mot de passe"},
    "capabilities": {"en": "What can you do?", "fr": "Que savez-vous faire ?"},
    "request_transcript": {"en": "E-mail me the conversation",
                        "fr": "Recevoir la conversation par e-mail"},
}
PERSON = {"en": "Talk to a person", "fr": "Parler à une personne"}
PERSON_PAYLOAD = "/request_human"
MAX_GUESSES = 3
# Guesses below this confidence are noise, not a likely intent.
MIN_CONFIDENCE = 0.05


def likely_intents(ranking: Sequence[Dict[str, Any]], limit: int = MAX_GUESSES) -> List[str]:
    """The intents worth offering, best first, from the NLU's intent ranking."""
    found: List[str] = []
    for entry in ranking:
        name = entry.get("name")
        if name in TITLES and name not in found \
                and float(entry.get("confidence") or 0.0) >= MIN_CONFIDENCE:
            found.append(name)
        if len(found) == limit:
            break
    return found


def suggestion_buttons(ranking: Sequence[Dict[str, Any]], language: Optional[str]
                       ) -> List[Dict[str, str]]:
    """One button per likely intent, then "Talk to a person", in the customer's language."""
    lang = language if language in PERSON else "en"
    buttons = [{"title": TITLES[name][lang], "payload": f"/{name}"}
               for name in likely_intents(ranking)]
    buttons.append({"title": PERSON[lang], "payload": PERSON_PAYLOAD})
    return buttons


class ActionSuggestIntents(Action):
    """Asks "Did you mean...?" with the likely intents and a person as buttons."""

    def name(self) -> Text:
        """The action's name in the domain."""
        return "action_suggest_intents"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> List[Dict[Text, Any]]:
        """The likely intents of the last message, and a person, as buttons."""
        ranking = tracker.latest_message.get("intent_ranking") or []
        buttons = suggestion_buttons(ranking, customer_language(tracker))
        dispatcher.utter_message(response="utter_suggest_intents", buttons=buttons)
        return []
