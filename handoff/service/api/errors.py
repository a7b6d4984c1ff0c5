"""Errors of the agent API, with their HTTP status and their message in French and English."""

from __future__ import annotations

from typing import Dict, Optional, Tuple

from aiohttp import web

# code -> (HTTP status, English, French)
MESSAGES: Dict[str, Tuple[int, str, str]] = {
    "bad_json": (400, "The request body is not valid JSON.",
                 "Le corps de la requête n'est pas du JSON valide."),
    "bad_request": (400, "The request is missing a field or has a wrong value.",
                    "La requête est incomplète ou contient une valeur incorrecte."),
    "empty_message": (400, "The message is empty.", "Le message est vide."),
    "message_too_long": (400, "The message is too long.", "Le message est trop long."),
    "unknown_flow": (400, "Unknown hand-back flow.", "Parcours de retour au bot inconnu."),
    "unknown_agent": (400, "No such agent to transfer to.",
                      "Aucun conseiller de ce nom à qui transférer."),
    "unknown_team": (400, "No such team to transfer to.", "Aucune équipe de ce nom."),
    "not_an_answer": (400, "Only an agent's reply to a customer's message can be marked as a "
                           "good answer.",
                      "Seule la réponse d'un conseiller à un message du client peut être "
                      "marquée comme bonne réponse."),
    "bad_language": (400, "The language must be fr or en (or none, for both).",
                     "La langue doit être fr ou en (ou aucune, pour les deux)."),
    "bad_intent": (400, "The intent name needs letters or digits (e.g. ask_gift_card).",
                   "Le nom d'intention doit contenir des lettres ou des chiffres "
                   "(par ex. ask_gift_card)."),
    "intent_taken": (409, "The assistant already has an intent of that name: choose another.",
                     "L'assistant a déjà une intention de ce nom : choisissez-en un autre."),
    "bad_draft": (400, "This group cannot be made into an intent (no usable example).",
                  "Ce groupe ne peut pas devenir une intention (aucun exemple utilisable)."),
    "unknown_group": (404, "No such group in these results: load the groups again.",
                      "Ce groupe n'existe pas dans ces résultats : rechargez les groupes."),
    "groups_changed": (409, "The groups were computed again since you loaded them: load them "
                            "again before exporting.",
                       "Les groupes ont été recalculés depuis leur chargement : rechargez-les "
                       "avant d'exporter."),
    "miner_busy": (503, "The analysis of customer messages is busy with other requests: try "
                        "again in a minute.",
                   "L'analyse des messages clients traite déjà d'autres demandes : réessayez "
                   "dans une minute."),
    "mining_failed": (500, "The analysis of customer messages failed (see the service's log). "
                           "Try again.",
                      "L'analyse des messages clients a échoué (voir le journal du service). "
                      "Réessayez."),
    "bad_date": (400, "Dates must look like 2024-05-31 (or a full ISO 8601 time with its "
                      "offset, e.g. 2024-05-31T14:00:00+02:00).",
                 "Les dates s'écrivent 2024-05-31 (ou une heure ISO 8601 complète avec son "
                 "décalage, p. ex. 2024-05-31T14:00:00+02:00)."),
    "bad_range": (400, "The start of the period must come before its end, and a period may "
                       "last at most 366 days.",
                  "Le début de la période doit précéder sa fin, et une période dure au plus "
                  "366 jours."),
    "bad_timezone": (400, "Unknown time zone (use a name such as Europe/Paris or UTC).",
                     "Fuseau horaire inconnu (utilisez un nom comme Europe/Paris ou UTC)."),
    "bad_score": (400, "The answer must be a whole number from 0 to 10.",
                  "La réponse doit être un nombre entier de 0 à 10."),
    "already_answered": (409, "You have already answered this month's question.",
                         "Vous avez déjà répondu à la question de ce mois-ci."),
    "bad_identity": (400, "Name one identity: kind web, messenger, email, phone or conversation, "
                          "and its value.",
                     "Indiquez une identité : type web, messenger, email, phone ou "
                     "conversation, et sa valeur."),
    "confirm_erasure": (400, "An erasure cannot be undone: send it again with confirm set to "
                             "true.",
                        "Un effacement est définitif : renvoyez la demande avec confirm à "
                        "true."),
    "unknown_action": (400, "Unknown action: cancel, change_address, refund or voucher.",
                       "Action inconnue : cancel, change_address, refund ou voucher."),
    "bad_amount": (400, "The amount must be more than 0 and at most 10,000.00, in euros and "
                        "cents. Nothing was changed.",
                   "Le montant doit être supérieur à 0 et d'au plus 10 000,00, en euros et "
                   "centimes. Rien n'a été modifié."),
    "bad_address": (400, "This does not look like a full postal address (number, street, "
                         "postcode and town). Nothing was changed.",
                    "Ceci ne ressemble pas à une adresse postale complète (numéro, rue, code "
                    "postal et ville). Rien n'a été modifié."),
    "order_proof_failed": (400, "This order number and this e-mail address or postcode do not "
                                "go together. Check them with the customer.",
                           "Ce numéro de commande et cette adresse e-mail ou ce code postal ne "
                           "correspondent pas. Vérifiez-les avec le client."),
    "order_not_customers": (403, "This order is not one the customer has proven is theirs: "
                                 "look it up with its number and its e-mail address or "
                                 "postcode. Nothing was changed.",
                            "Cette commande n'est pas une de celles que le client a prouvé "
                            "être les siennes : recherchez-la avec son numéro et son adresse "
                            "e-mail ou son code postal. Rien n'a été modifié."),
    "order_unknown": (404, "No such order. Nothing was changed.",
                      "Commande introuvable. Rien n'a été modifié."),
    "unknown_approval": (404, "No such request for approval.",
                         "Demande de validation introuvable."),
    "order_not_changeable": (409, "This order can no longer be changed: it has left the "
                                  "warehouse or was cancelled. Nothing was changed.",
                             "Cette commande ne peut plus être modifiée : elle a quitté "
                             "l'entrepôt ou a été annulée. Rien n'a été modifié."),
    "over_refundable": (409, "This is more than what is left to refund on this order. Nothing "
                             "was changed.",
                        "C'est plus que ce qui reste à rembourser sur cette commande. Rien n'a "
                        "été modifié."),
    "already_decided": (409, "This request was already decided (by you or another "
                             "supervisor).",
                        "Cette demande a déjà été tranchée (par vous ou un autre "
                        "superviseur)."),
    "request_reused": (409, "This request id was used for another action: reload the page.",
                       "Cet identifiant de demande a servi à une autre action : rechargez la "
                       "page."),
    "order_proof_locked": (429, "Too many wrong answers for this order today: a supervisor can "
                                "help. Nothing was looked up.",
                           "Trop de réponses erronées pour cette commande aujourd'hui : un "
                           "superviseur peut aider. Aucune recherche n'a été faite."),
    "orders_unavailable": (503, "The order system did not answer; nothing was changed. Please "
                                "try again in a moment.",
                           "Le système des commandes n'a pas répondu ; rien n'a été modifié. "
                           "Réessayez dans un instant."),
    "bad_phone": (400, "This does not look like a phone number (e.g. 06 12 34 56 78 or "
                       "+44 20 7946 0958). Nothing was changed.",
                  "Ce n'est pas un numéro de téléphone valide (par ex. 06 12 34 56 78 ou "
                  "+44 20 7946 0958). Rien n'a été modifié."),
    "slot_past": (400, "This time has already passed: please pick another one. Nothing was "
                       "changed.",
                  "Ce créneau est déjà passé : choisissez-en un autre. Rien n'a été modifié."),
    "bad_slot": (400, "This time is not one we offer: please pick one from the list. Nothing "
                      "was changed.",
                 "Ce créneau ne fait pas partie de ceux proposés : choisissez-en un dans la "
                 "liste. Rien n'a été modifié."),
    "bad_outcome": (400, "The outcome must be reached, no_answer, voicemail or wrong_number "
                         "(note: at most 1000 characters). Nothing was changed.",
                    "Le résultat doit être reached, no_answer, voicemail ou wrong_number "
                    "(note : 1000 caractères au plus). Rien n'a été modifié."),
    "callback_unknown": (404, "No such call-back (the link may have expired). Nothing was "
                              "changed.",
                         "Rappel introuvable (le lien a peut-être expiré). Rien n'a été "
                         "modifié."),
    "callback_done": (409, "This call was already made and its outcome recorded. Nothing was "
                           "changed.",
                      "Cet appel a déjà eu lieu et son résultat est enregistré. Rien n'a été "
                      "modifié."),
    "callback_not_scheduled": (409, "The customer has not picked a time yet: there is no call "
                                    "to record. Nothing was changed.",
                               "Le client n'a pas encore choisi de créneau : il n'y a pas "
                               "d'appel à enregistrer. Rien n'a été modifié."),
    "callback_other_team": (403, "This call-back is for another team. Nothing was changed.",
                            "Ce rappel est pour une autre équipe. Rien n'a été modifié."),
    "unauthenticated": (401, "Please sign in.", "Veuillez vous connecter."),
    "bad_credentials": (401, "Wrong username or password.",
                        "Identifiant ou mot de passe incorrect."),
    "csrf": (403, "Request refused: it did not come from the console.",
             "Requête refusée : elle ne vient pas de la console."),
    "forbidden": (403, "You may not do this.", "Vous n'avez pas le droit de faire ceci."),
    "other_team": (403, "This conversation is waiting for another team.",
                   "Cette conversation attend une autre équipe."),
    "transferred_to_other": (403, "This conversation was transferred to another agent: only "
                                  "they or a supervisor can take it.",
                             "Cette conversation a été transférée à un autre conseiller : seul "
                             "lui ou un superviseur peut la prendre."),
    "not_found": (404, "No such conversation.", "Conversation introuvable."),
    "already_claimed": (409, "Another agent already took this conversation.",
                        "Un autre conseiller a déjà pris cette conversation."),
    "not_yours": (409, "This conversation is assigned to another agent.",
                  "Cette conversation est attribuée à un autre conseiller."),
    "limit_reached": (409, "You already have as many conversations as you may hold at once.",
                      "Vous avez déjà le nombre maximal de conversations simultanées."),
    "customer_unreachable": (409, "The customer can't be reached on this channel any more "
                                  "(Messenger allows agents 7 days after their last message).",
                             "Le client n'est plus joignable sur ce canal (Messenger laisse "
                             "7 jours après son dernier message)."),
    "same_channel": (409, "The customer is already on this channel.",
                     "Le client est déjà sur ce canal."),
    "channel_unavailable": (409, "This channel is not set up (see docs/channels.md).",
                            "Ce canal n'est pas configuré (voir docs/channels.md)."),
    "bad_state": (409, "This conversation is not in a state that allows this.",
                  "L'état de cette conversation ne permet pas cette action."),
    "too_many_requests": (429, "Too many requests at once: please wait a few seconds and try "
                               "again. Nothing was lost.",
                          "Trop de requêtes à la fois : attendez quelques secondes et "
                          "réessayez. Rien n'a été perdu."),
    "login_throttled": (429, "Too many failed sign-ins: please wait {seconds} s before trying "
                             "again.",
                        "Trop de connexions échouées : attendez {seconds} s avant de "
                        "réessayer."),
    "bad_host": (421, "This address is not the service's: use the address you were given.",
                 "Cette adresse n'est pas celle du service : utilisez l'adresse indiquée."),
    "too_large": (413, "The request is too large.", "La requête est trop volumineuse."),
    "store_unavailable": (503, "The service's database did not answer. Please try again in a "
                               "few seconds (a message sent again is never sent twice).",
                          "La base de données du service n'a pas répondu. Réessayez dans "
                          "quelques secondes (un message renvoyé n'est jamais envoyé deux fois)."),
    "rasa_unavailable": (503, "The assistant server did not answer; nothing was changed. "
                              "Please try again.",
                         "Le serveur de l'assistant n'a pas répondu ; rien n'a été modifié. "
                         "Veuillez réessayer."),
}


class ApiError(Exception):
    """An error answered to the API client; `retry_after` (seconds) becomes `Retry-After`."""

    def __init__(self, code: str, retry_after: Optional[int] = None) -> None:
        super().__init__(code)
        self.code = code
        self.status = MESSAGES[code][0]
        self.retry_after = retry_after


def prefers_french(request: web.Request) -> bool:
    """Whether the client's first language is French (the console sends its own)."""
    return request.headers.get("Accept-Language", "").lower().lstrip().startswith("fr")


def error_body(code: str, french: bool, retry_after: Optional[int] = None) -> Dict[str, str]:
    """`{"code", "message"}`: the error as the HTTP routes and the console's socket give it."""
    _, english, in_french = MESSAGES[code]
    return {"code": code, "message": (in_french if french else english).format(
        seconds=retry_after)}


def error_response(request: web.Request, code: str,
                   retry_after: Optional[int] = None) -> web.Response:
    """The JSON error body, in the language the client asked for."""
    response = web.json_response({"error": error_body(code, prefers_french(request),
                                                      retry_after)},
                                 status=MESSAGES[code][0], headers={"Cache-Control": "no-store"})
    if retry_after is not None:
        response.headers["Retry-After"] = str(retry_after)
    return response
