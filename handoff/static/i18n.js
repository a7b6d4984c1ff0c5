/* Shared FR/EN strings for the agent console and the customer chat page.
 *
 * The language follows the browser: navigator.language "fr*" gives French, anything else English.
 * Usage: HandoffI18n.t('key', {name: 'Marie'}) -> string with {name} replaced;
 *        HandoffI18n.apply(root) fills [data-i18n], [data-i18n-placeholder],
 *        [data-i18n-aria-label] and [data-i18n-title] from the table.
 * Every key must exist in both languages (see the check at the bottom).
 */
(function () {
  'use strict';

  var lang = /^fr/i.test(navigator.language || '') ? 'fr' : 'en';

  var STRINGS = {
    en: {
      /* ---- console ---- */
      'console.title': 'Agent console',
      'console.brand': 'Support console',
      'login.heading': 'Sign in',
      'login.intro': 'Sign in to take over conversations from the assistant.',
      'login.username': 'Username',
      'login.password': 'Password',
      'login.submit': 'Sign in',
      'login.submitting': 'Signing in…',
      'login.expired': 'Your session has ended. Please sign in again.',
      'logout': 'Sign out',
      'conn.connected': 'Live',
      'conn.connecting': 'Connecting…',
      'conn.reconnecting': 'Reconnecting…',
      'conn.offline': 'Offline',
      'queue.heading': 'Queue',
      'queue.empty': 'Nobody is waiting.',
      'queue.claim': 'Claim',
      'queue.waiting': 'Waiting {time}',
      'queue.priority': 'Priority',
      'queue.new': 'New conversation waiting',
      'mine.heading': 'My conversations',
      'mine.empty': 'No conversation assigned to you.',
      'mine.unread': '{n} new',
      'conv.empty': 'Select a conversation in the queue or in your list.',
      'conv.loading': 'Loading the conversation…',
      'conv.customer': 'Customer',
      'conv.preview': 'Preview: claim this conversation to answer.',
      'conv.readonly': 'This conversation is not assigned to you: you cannot answer.',
      'conv.ended': 'This conversation has left your hands ({state}).',
      'conv.claim': 'Claim',
      'conv.agentOf': 'Handled by {name}',
      'turn.customer': 'Customer',
      'turn.bot': 'Bot',
      'turn.agent': '{name} · agent',
      'turn.button': 'Button: {payload}',
      'turn.attachment': 'Attachment ({type})',
      'turn.sending': 'Sending…',
      'turn.accepted': 'Sent, waiting for delivery…',
      'turn.failed': 'Not sent: {reason}',
      'turn.undelivered': 'Not delivered: {reason}',
      'turn.retry': 'Retry',
      'marker.handoff_started': 'Handoff started',
      'marker.handoff_ended': 'Handoff ended',
      'reply.placeholder': 'Write a reply… (Enter to send, Shift+Enter for a new line)',
      'reply.label': 'Reply',
      'transcript.label': 'Transcript',
      'reply.send': 'Send',
      'reply.tooLong': 'The message is too long ({n} / {max} characters).',
      'handback.label': 'Hand back to bot',
      'handback.flow': 'Then',
      'handback.none': 'No follow-up',
      'handback.button': 'Hand back to bot',
      'handback.done': 'The conversation is back with the bot.',
      'close.button': 'Close',
      'close.done': 'The conversation is closed.',
      'claim.done': 'The conversation is yours.',
      'ctx.heading': 'Context',
      'ctx.empty': 'Open a conversation to see its context.',
      'ctx.noTicket': 'No handoff ticket for this conversation.',
      'ctx.summary': 'Summary',
      'ctx.reason': 'Reason',
      'ctx.language': 'Language',
      'ctx.channel': 'Channel',
      'ctx.state': 'State',
      'ctx.position': 'Position in queue',
      'ctx.created': 'Handoff requested',
      'ctx.customer': 'Customer',
      'ctx.customerId': 'Id',
      'ctx.name': 'Name',
      'ctx.email': 'E-mail',
      'ctx.slots': 'What the customer told the bot',
      'ctx.noSlots': 'No slot filled.',
      'ctx.entities': 'Entities',
      'ctx.noEntities': 'No entity found.',
      'ctx.intents': 'Intent ranking',
      'ctx.noIntents': 'No intent ranking.',
      'ctx.earlier': 'Earlier conversations',
      'ctx.noEarlier': 'None.',
      'reason.asked': 'Asked for a person',
      'reason.complaint': 'Complaint',
      'reason.frustration': 'Frustration',
      'reason.not_understood': 'Not understood',
      'reason.sensitive': 'Sensitive topic',
      'lang.en': 'English',
      'lang.fr': 'French',
      'channel.socketio': 'Web chat',
      'channel.rest': 'API',
      'channel.facebook': 'Messenger',
      'state.bot': 'With the bot',
      'state.queued': 'Waiting',
      'state.assigned': 'In progress',
      'state.transferred': 'Transferred',
      'state.closed': 'Closed',
      'error.network': 'The service cannot be reached. Check your connection.',
      'error.http': 'Unexpected error (HTTP {status}).',
      'dismiss': 'Dismiss',
      'yes': 'yes',
      'no': 'no',
      'presence.online': 'Online',
      'presence.away': 'Away',
      'presence.offline': 'Offline',
      'presence.title': 'Your status: click to switch between online and away',
      'presence.nowOnline': 'You are online.',
      'presence.nowAway': 'You are away: colleagues see it when they transfer.',
      'reply.modes': 'Message type',
      'reply.modeReply': 'Reply to customer',
      'reply.hint': 'Type / for canned responses',
      'note.toggle': 'Internal note',
      'note.label': 'Internal note — not visible to the customer',
      'note.placeholder': 'Write an internal note… only agents see it (Enter to add)',
      'note.send': 'Add note',
      'canned.label': 'Canned responses',
      'canned.empty': 'No canned response matches.',
      'canned.loading': 'Searching…',
      'typing.customer': 'Customer is typing…',
      'transfer.button': 'Transfer',
      'transfer.to': 'Transfer to',
      'transfer.noteLabel': 'Note for the next agent (optional)',
      'transfer.notePlaceholder': 'What should they know? Only agents see this note.',
      'transfer.submit': 'Transfer',
      'transfer.cancel': 'Cancel',
      'transfer.loading': 'Loading agents…',
      'transfer.noAgent': 'No other agent to transfer to.',
      'transfer.option': '{name} — {presence} · {load}/{max} conversations',
      'transfer.done': 'The conversation is transferred to {name}.',
      'transfer.toYou': 'Transferred to you',
      'transfer.incoming': 'A conversation was transferred to you.',
      'transfer.banner': 'This conversation was transferred to you: accept it to take it over (you can also answer straight away).',
      'transfer.accept': 'Accept',
      'transfer.accepted': 'You accepted the conversation.',
      'close.resolution': 'Resolution',
      'resolution.resolved': 'Resolved',
      'resolution.not_resolved': 'Not resolved',
      'resolution.no_answer': 'No answer from customer',
      'resolution.duplicate': 'Duplicate',
      'claim.limit': 'Limit reached: at most {max} at once. Close, hand back or transfer a conversation before taking another.',
      'mine.limit': 'Limit reached: {n}/{max} conversations.',

      /* ---- customer chat ---- */
      'chat.title': 'Customer service',
      'chat.subtitle': 'Our assistant answers at once. Ask for a person at any time.',
      'chat.intro': 'Hello! Write your question below. If you would rather talk to a person, just say so: someone from our team will take over with everything you wrote.',
      'chat.placeholder': 'Write your message…',
      'chat.inputLabel': 'Your message',
      'chat.send': 'Send',
      'chat.you': 'You',
      'chat.bot': 'Assistant',
      'chat.agent': '{name} · agent',
      'chat.image': 'Image',
      'chat.status.connecting': 'Connecting…',
      'chat.status.connected': 'Online',
      'chat.status.reconnecting': 'Reconnecting…',
      'chat.status.offline': 'Offline. Your messages will be sent when the connection is back.',
      'chat.queued': 'Will be sent when the connection is back',
      'chat.typing': '{name} is typing…',
      'chat.typingAnon': 'An agent is typing…',
      'chat.messagesLabel': 'Conversation'
    },
    fr: {
      /* ---- console ---- */
      'console.title': 'Console des conseillers',
      'console.brand': 'Console du support',
      'login.heading': 'Connexion',
      'login.intro': 'Connectez-vous pour prendre le relais de l’assistant.',
      'login.username': 'Identifiant',
      'login.password': 'Mot de passe',
      'login.submit': 'Se connecter',
      'login.submitting': 'Connexion…',
      'login.expired': 'Votre session a pris fin. Veuillez vous reconnecter.',
      'logout': 'Se déconnecter',
      'conn.connected': 'En direct',
      'conn.connecting': 'Connexion…',
      'conn.reconnecting': 'Reconnexion…',
      'conn.offline': 'Hors ligne',
      'queue.heading': 'File d’attente',
      'queue.empty': 'Personne n’attend.',
      'queue.claim': 'Prendre',
      'queue.waiting': 'Attend depuis {time}',
      'queue.priority': 'Prioritaire',
      'queue.new': 'Nouvelle conversation en attente',
      'mine.heading': 'Mes conversations',
      'mine.empty': 'Aucune conversation ne vous est attribuée.',
      'mine.unread': '{n} nouveau(x)',
      'conv.empty': 'Choisissez une conversation dans la file ou dans votre liste.',
      'conv.loading': 'Chargement de la conversation…',
      'conv.customer': 'Client',
      'conv.preview': 'Aperçu : prenez cette conversation pour répondre.',
      'conv.readonly': 'Cette conversation ne vous est pas attribuée : vous ne pouvez pas répondre.',
      'conv.ended': 'Cette conversation n’est plus entre vos mains ({state}).',
      'conv.claim': 'Prendre',
      'conv.agentOf': 'Pris en charge par {name}',
      'turn.customer': 'Client',
      'turn.bot': 'Bot',
      'turn.agent': '{name} · service client',
      'turn.button': 'Bouton : {payload}',
      'turn.attachment': 'Pièce jointe ({type})',
      'turn.sending': 'Envoi…',
      'turn.accepted': 'Envoyé, en attente de remise…',
      'turn.failed': 'Non envoyé : {reason}',
      'turn.undelivered': 'Non remis : {reason}',
      'turn.retry': 'Réessayer',
      'marker.handoff_started': 'Début de la prise en charge',
      'marker.handoff_ended': 'Fin de la prise en charge',
      'reply.placeholder': 'Écrivez une réponse… (Entrée pour envoyer, Maj+Entrée pour aller à la ligne)',
      'reply.label': 'Réponse',
      'transcript.label': 'Historique de la conversation',
      'reply.send': 'Envoyer',
      'reply.tooLong': 'Le message est trop long ({n} / {max} caractères).',
      'handback.label': 'Rendre au bot',
      'handback.flow': 'Ensuite',
      'handback.none': 'Pas de suite',
      'handback.button': 'Rendre au bot',
      'handback.done': 'La conversation est rendue au bot.',
      'close.button': 'Clore',
      'close.done': 'La conversation est close.',
      'claim.done': 'La conversation est à vous.',
      'ctx.heading': 'Contexte',
      'ctx.empty': 'Ouvrez une conversation pour voir son contexte.',
      'ctx.noTicket': 'Pas de ticket de transfert pour cette conversation.',
      'ctx.summary': 'Résumé',
      'ctx.reason': 'Motif',
      'ctx.language': 'Langue',
      'ctx.channel': 'Canal',
      'ctx.state': 'État',
      'ctx.position': 'Position dans la file',
      'ctx.created': 'Transfert demandé',
      'ctx.customer': 'Client',
      'ctx.customerId': 'Id',
      'ctx.name': 'Nom',
      'ctx.email': 'Courriel',
      'ctx.slots': 'Ce que le client a dit au bot',
      'ctx.noSlots': 'Aucun slot rempli.',
      'ctx.entities': 'Entités',
      'ctx.noEntities': 'Aucune entité trouvée.',
      'ctx.intents': 'Classement des intentions',
      'ctx.noIntents': 'Pas de classement des intentions.',
      'ctx.earlier': 'Conversations précédentes',
      'ctx.noEarlier': 'Aucune.',
      'reason.asked': 'A demandé une personne',
      'reason.complaint': 'Réclamation',
      'reason.frustration': 'Frustration',
      'reason.not_understood': 'Non compris',
      'reason.sensitive': 'Sujet sensible',
      'lang.en': 'Anglais',
      'lang.fr': 'Français',
      'channel.socketio': 'Chat web',
      'channel.rest': 'API',
      'channel.facebook': 'Messenger',
      'state.bot': 'Avec le bot',
      'state.queued': 'En attente',
      'state.assigned': 'En cours',
      'state.transferred': 'Transférée',
      'state.closed': 'Close',
      'error.network': 'Le service est injoignable. Vérifiez votre connexion.',
      'error.http': 'Erreur inattendue (HTTP {status}).',
      'dismiss': 'Fermer',
      'yes': 'oui',
      'no': 'non',
      'presence.online': 'En ligne',
      'presence.away': 'Absent',
      'presence.offline': 'Hors ligne',
      'presence.title': 'Votre statut : cliquez pour passer de « en ligne » à « absent »',
      'presence.nowOnline': 'Vous êtes en ligne.',
      'presence.nowAway': 'Vous êtes absent : vos collègues le voient quand ils transfèrent.',
      'reply.modes': 'Type de message',
      'reply.modeReply': 'Répondre au client',
      'reply.hint': 'Tapez / pour les réponses types',
      'note.toggle': 'Note interne',
      'note.label': 'Note interne — invisible pour le client',
      'note.placeholder': 'Écrivez une note interne… seuls les conseillers la voient (Entrée pour l’ajouter)',
      'note.send': 'Ajouter la note',
      'canned.label': 'Réponses types',
      'canned.empty': 'Aucune réponse type ne correspond.',
      'canned.loading': 'Recherche…',
      'typing.customer': 'Le client écrit…',
      'transfer.button': 'Transférer',
      'transfer.to': 'Transférer à',
      'transfer.noteLabel': 'Note pour le prochain conseiller (facultative)',
      'transfer.notePlaceholder': 'Que doit-il savoir ? Seuls les conseillers voient cette note.',
      'transfer.submit': 'Transférer',
      'transfer.cancel': 'Annuler',
      'transfer.loading': 'Chargement des conseillers…',
      'transfer.noAgent': 'Aucun autre conseiller à qui transférer.',
      'transfer.option': '{name} — {presence} · {load}/{max} conversations',
      'transfer.done': 'La conversation est transférée à {name}.',
      'transfer.toYou': 'Transférée vers vous',
      'transfer.incoming': 'Une conversation vous a été transférée.',
      'transfer.banner': 'Cette conversation vous a été transférée : acceptez-la pour la prendre en charge (vous pouvez aussi répondre tout de suite).',
      'transfer.accept': 'Accepter',
      'transfer.accepted': 'Vous avez accepté la conversation.',
      'close.resolution': 'Résolution',
      'resolution.resolved': 'Résolu',
      'resolution.not_resolved': 'Non résolu',
      'resolution.no_answer': 'Pas de réponse du client',
      'resolution.duplicate': 'Doublon',
      'claim.limit': 'Limite atteinte : {max} au plus à la fois. Clôturez, rendez au bot ou transférez une conversation avant d’en prendre une autre.',
      'mine.limit': 'Limite atteinte : {n}/{max} conversations.',

      /* ---- customer chat ---- */
      'chat.title': 'Service client',
      'chat.subtitle': 'Notre assistant répond tout de suite. Demandez une personne quand vous voulez.',
      'chat.intro': 'Bonjour ! Écrivez votre question ci-dessous. Si vous préférez parler à une personne, dites-le simplement : quelqu’un de notre équipe prendra le relais avec tout ce que vous avez écrit.',
      'chat.placeholder': 'Écrivez votre message…',
      'chat.inputLabel': 'Votre message',
      'chat.send': 'Envoyer',
      'chat.you': 'Vous',
      'chat.bot': 'Assistant',
      'chat.agent': '{name} · service client',
      'chat.image': 'Image',
      'chat.status.connecting': 'Connexion…',
      'chat.status.connected': 'En ligne',
      'chat.status.reconnecting': 'Reconnexion…',
      'chat.status.offline': 'Hors ligne. Vos messages partiront dès le retour de la connexion.',
      'chat.queued': 'Partira dès le retour de la connexion',
      'chat.typing': '{name} écrit…',
      'chat.typingAnon': 'Un conseiller écrit…',
      'chat.messagesLabel': 'Conversation'
    }
  };

  function t(key, vars) {
    var table = STRINGS[lang];
    var s = Object.prototype.hasOwnProperty.call(table, key) ? table[key]
      : (Object.prototype.hasOwnProperty.call(STRINGS.en, key) ? STRINGS.en[key] : key);
    if (vars) {
      s = s.replace(/\{(\w+)\}/g, function (m, name) {
        return Object.prototype.hasOwnProperty.call(vars, name) && vars[name] != null
          ? String(vars[name]) : m;
      });
    }
    return s;
  }

  /* True when the table has the key (for labels of values that may be unknown, e.g. a new reason). */
  function has(key) {
    return Object.prototype.hasOwnProperty.call(STRINGS[lang], key);
  }

  function apply(root) {
    root = root || document;
    var i, nodes;
    nodes = root.querySelectorAll('[data-i18n]');
    for (i = 0; i < nodes.length; i++) nodes[i].textContent = t(nodes[i].getAttribute('data-i18n'));
    nodes = root.querySelectorAll('[data-i18n-placeholder]');
    for (i = 0; i < nodes.length; i++) {
      nodes[i].setAttribute('placeholder', t(nodes[i].getAttribute('data-i18n-placeholder')));
    }
    nodes = root.querySelectorAll('[data-i18n-aria-label]');
    for (i = 0; i < nodes.length; i++) {
      nodes[i].setAttribute('aria-label', t(nodes[i].getAttribute('data-i18n-aria-label')));
    }
    nodes = root.querySelectorAll('[data-i18n-title]');
    for (i = 0; i < nodes.length; i++) {
      nodes[i].setAttribute('title', t(nodes[i].getAttribute('data-i18n-title')));
    }
    if (root === document) document.documentElement.setAttribute('lang', lang);
  }

  /* Both languages must have the same keys: a missing string is a bug, say so loudly. */
  (function check() {
    var k;
    for (k in STRINGS.en) {
      if (!Object.prototype.hasOwnProperty.call(STRINGS.fr, k)) console.error('i18n: no French string for ' + k);
    }
    for (k in STRINGS.fr) {
      if (!Object.prototype.hasOwnProperty.call(STRINGS.en, k)) console.error('i18n: no English string for ' + k);
    }
  })();

  window.HandoffI18n = { lang: lang, t: t, has: has, apply: apply, strings: STRINGS };
})();
