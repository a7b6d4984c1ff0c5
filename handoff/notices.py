"""What the customer is told, in their language, when a person joins, leaves or closes.

Also what an agent did on their order (`handoff.service.api.order_actions`), and the call-backs
offered, scheduled and made (`handoff.service.api.callback_routes`).
"""

from __future__ import annotations

from typing import Any, Dict

TEXTS: Dict[str, Dict[str, str]] = {
    "agent_joined": {
        "en": "{agent} from our team has joined the conversation.",
        "fr": "{agent}, de notre équipe, a rejoint la conversation.",
    },
    "transferred_to_team": {
        "en": "{agent} is passing your conversation to our {team} team, with everything you "
              "wrote. Someone will be with you shortly; you can keep writing meanwhile.",
        "fr": "{agent} transmet votre conversation à notre équipe {team}, avec tout ce que vous "
              "avez écrit. Quelqu'un vous répond très vite ; vous pouvez continuer à écrire.",
    },
    "continue_on_messenger": {
        "en": "{agent} suggests we continue on Messenger. Open {link} and you will find us "
              "there with this whole conversation (or send us the code {code} on Messenger). "
              "The link works once, for 30 minutes.",
        "fr": "{agent} vous propose de continuer sur Messenger. Ouvrez {link} : vous nous y "
              "retrouverez avec toute cette conversation (ou envoyez-nous le code {code} sur "
              "Messenger). Le lien sert une fois, pendant 30 minutes.",
    },
    "continue_on_web": {
        "en": "{agent} suggests we continue in the chat on our website. Open {link} to find "
              "this whole conversation there. The link works once, for 30 minutes.",
        "fr": "{agent} vous propose de continuer dans le chat de notre site. Ouvrez {link} pour "
              "y retrouver toute cette conversation. Le lien sert une fois, pendant 30 minutes.",
    },
    "requeued": {
        "en": "{agent} had to leave. You are back at the front of the queue: another person "
              "from our team will be with you shortly, with everything you wrote.",
        "fr": "{agent} a dû s'absenter. Vous repassez en tête de file : une autre personne de "
              "notre équipe vous répond très vite, avec tout ce que vous avez écrit.",
    },
    "handoff_delayed": {
        "en": "I'm putting you through to a person; it is taking a little longer than usual. "
              "Please stay here: I'll tell you your place in line in a moment.",
        "fr": "Je vous mets en relation avec une personne ; cela prend un peu plus de temps que "
              "d'habitude. Restez ici : je vous indique votre place dans la file dans un instant.",
    },
    "wait_cancelled": {
        "en": "You are back with the assistant: ask me anything, or ask for a person again at "
              "any time.",
        "fr": "Vous êtes de retour avec l'assistant : posez-moi vos questions, ou redemandez une "
              "personne à tout moment.",
    },
    "handed_back": {
        "en": "{agent} has handed you back to the assistant. Ask me anything, or ask for a "
              "person again at any time.",
        "fr": "{agent} vous a redirigé vers l'assistant. Posez-moi vos questions, ou demandez "
              "à nouveau une personne à tout moment.",
    },
    "closed": {
        "en": "This conversation is now closed. Write again any time if you need anything.",
        "fr": "Cette conversation est maintenant close. Écrivez-nous à tout moment si besoin.",
    },
    "order_cancelled": {
        "en": "{agent} has cancelled your order {order}.",
        "fr": "{agent} a annulé votre commande {order}.",
    },
    "order_address_changed": {
        "en": "{agent} has changed the delivery address of your order {order} to: {address}.",
        "fr": "{agent} a changé l'adresse de livraison de votre commande {order} : {address}.",
    },
    "order_refunded": {
        "en": "{agent} has refunded {amount} on your order {order}, to your original means "
              "of payment.",
        "fr": "{agent} vous a remboursé {amount} sur votre commande {order}, sur votre moyen "
              "de paiement d'origine.",
    },
    "order_voucher": {
        "en": "{agent} has given you a voucher of {amount} (order {order}). Your code: {code}.",
        "fr": "{agent} vous a offert un bon d'achat de {amount} (commande {order}). Votre "
              "code : {code}.",
    },
    "order_approval_requested": {
        "en": "{agent} has asked a manager to approve {what} on your order {order}. We will "
              "tell you here as soon as it is decided.",
        "fr": "{agent} a demandé à un responsable de valider {what} sur votre commande {order}. "
              "Nous vous tiendrons informé ici dès que ce sera décidé.",
    },
    "order_approval_refused": {
        "en": "We could not grant {what} on your order {order}. {agent} can tell you more.",
        "fr": "Nous n'avons pas pu accorder {what} sur votre commande {order}. {agent} peut "
              "vous en dire plus.",
    },
    "callback_offered": {
        "en": "{agent} offers to call you. Pick a time that suits you (or \"now\") and leave "
              "your number here: {link}",
        "fr": "{agent} vous propose de vous appeler. Choisissez le moment qui vous convient "
              "(ou « maintenant ») et laissez votre numéro ici : {link}",
    },
    "callback_asked": {
        "en": "You asked for a call: pick a time that suits you (or \"now\") and leave your "
              "number here: {link} The person who calls will have everything you wrote. You can "
              "keep writing here meanwhile.",
        "fr": "Vous souhaitez être appelé : choisissez le moment qui vous convient (ou "
              "« maintenant ») et laissez votre numéro ici : {link} La personne qui vous appelle "
              "aura tout ce que vous avez écrit. Vous pouvez continuer à écrire ici en attendant.",
    },
    "callback_scheduled": {
        "en": "Thank you: we will call you on {phone}, {when}. Everything you wrote here will "
              "be in front of the person who calls.",
        "fr": "Merci : nous vous appellerons au {phone}, {when}. La personne qui vous appelle "
              "aura sous les yeux tout ce que vous avez écrit ici.",
    },
    "callback_reached": {
        "en": "Thank you for your time on the phone with {agent}. Write here any time if you "
              "need anything else.",
        "fr": "Merci pour votre échange téléphonique avec {agent}. Écrivez-nous ici à tout "
              "moment si besoin.",
    },
    "callback_no_answer": {
        "en": "{agent} tried to call you on {phone} but could not reach you. Write here when "
              "you are available, or ask for another call.",
        "fr": "{agent} a essayé de vous appeler au {phone}, sans réponse. Écrivez-nous ici "
              "quand vous êtes disponible, ou demandez un nouvel appel.",
    },
    "callback_voicemail": {
        "en": "{agent} tried to call you on {phone} and left you a voicemail. Write here if "
              "you would like another call.",
        "fr": "{agent} a essayé de vous appeler au {phone} et vous a laissé un message vocal. "
              "Écrivez-nous ici si vous souhaitez un nouvel appel.",
    },
    "callback_wrong_number": {
        "en": "{agent} tried to call you on {phone}, but it seems to be the wrong number. "
              "Write here to give us the right one.",
        "fr": "{agent} a essayé de vous appeler au {phone}, mais ce numéro ne semble pas être "
              "le vôtre. Écrivez-nous ici pour nous donner le bon.",
    },
    "data_erased": {
        "en": "As you asked, we are erasing your conversations and the data we hold about you. "
              "This conversation is now closed; you can write to us again at any time.",
        "fr": "Comme vous l'avez demandé, nous effaçons vos conversations et les données vous "
              "concernant. Cette conversation est maintenant close ; vous pouvez nous écrire à "
              "nouveau à tout moment.",
    },
}


def notice_event(kind: str, language: str, agent: str, **metadata: Any) -> Dict[str, Any]:
    """A `bot` event carrying a notice, for Rasa's tracker/events API."""
    texts = TEXTS[kind]
    text = texts.get(language, texts["en"]).format(agent=agent, **metadata)
    return {"event": "bot", "text": text, "metadata": {"handoff_notice": kind, **metadata}}


def amount_text(cents: int, currency: str = "EUR") -> Dict[str, str]:
    """An amount as each language writes it: `€80.00` / `80,00 €`."""
    symbol = "€" if currency == "EUR" else currency
    whole, part = divmod(abs(cents), 100)
    sign = "-" if cents < 0 else ""
    return {"en": f"{sign}{symbol}{whole:,}.{part:02d}",
            "fr": f"{sign}{whole:,}".replace(",", "\u202f") + f",{part:02d} {symbol}"}


def what_text(kind: str, cents: int, currency: str = "EUR") -> Dict[str, str]:
    """`a refund of €80.00` / `un remboursement de 80,00 €` (a voucher likewise)."""
    amount = amount_text(cents, currency)
    if kind == "refund":
        return {"en": f"a refund of {amount['en']}", "fr": f"un remboursement de {amount['fr']}"}
    return {"en": f"a voucher of {amount['en']}", "fr": f"un bon d'achat de {amount['fr']}"}
