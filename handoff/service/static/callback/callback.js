/* The customer's call-back page (/callback/<token>): pick a time (or "now") and leave a number.
 * The page speaks the customer's language (the call-back's, from GET /api/callback/<token>);
 * the server checks everything again and answers its errors in that language
 * (Accept-Language). Routes: handoff/service/api/callback_routes.py.
 */
(function () {
  'use strict';

  var TEXTS = {
    en: { title: 'We call you', when: 'When may we call you?', phone: 'Your phone number',
      submit: 'Confirm', intro: '{agent} from our team will call you. Everything you wrote in the chat will be in front of them.',
      introNoAgent: 'Someone from our team will call you. Everything you wrote in the chat will be in front of them.',
      pick: 'Please pick a time.', scheduled: 'Thank you: we will call you {when}. You can close this page, or pick another time above.',
      done: 'This call has already been made. Write to us in the chat if you need anything.',
      none: 'We are closed for the next days: please write to us in the chat.',
      failed: 'Something went wrong. Please try again in a moment.' },
    fr: { title: 'Nous vous appelons', when: 'Quand pouvons-nous vous appeler ?', phone: 'Votre numéro de téléphone',
      submit: 'Confirmer', intro: '{agent}, de notre équipe, va vous appeler, avec sous les yeux tout ce que vous avez écrit dans le chat.',
      introNoAgent: 'Une personne de notre équipe va vous appeler, avec sous les yeux tout ce que vous avez écrit dans le chat.',
      pick: 'Choisissez un créneau.', scheduled: 'Merci : nous vous appellerons {when}. Vous pouvez fermer cette page, ou choisir un autre créneau ci-dessus.',
      done: 'Cet appel a déjà eu lieu. Écrivez-nous dans le chat si besoin.',
      none: 'Nous sommes fermés les prochains jours : écrivez-nous dans le chat.',
      failed: 'Une erreur est survenue. Réessayez dans un instant.' }
  };
  var lang = 'en';
  var token = decodeURIComponent(location.pathname.split('/').pop() || '');
  function $(id) { return document.getElementById(id); }
  function t(key, vars) {
    var text = (TEXTS[lang] || TEXTS.en)[key] || key;
    Object.keys(vars || {}).forEach(function (k) { text = text.replace('{' + k + '}', vars[k]); });
    return text;
  }

  function call(method, body) {
    return fetch('/api/callback/' + encodeURIComponent(token), {
      method: method, credentials: 'omit',
      headers: { 'Content-Type': 'application/json', 'Accept-Language': lang },
      body: body ? JSON.stringify(body) : undefined
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (d) {
        if (!r.ok) throw new Error((d.error && d.error.message) || t('failed'));
        return d;
      });
    });
  }

  function error(text) { $('callback-error').textContent = text || ''; $('callback-error').hidden = !text; }

  function translate() {
    document.documentElement.lang = lang;
    Array.prototype.forEach.call(document.querySelectorAll('[data-text]'), function (node) {
      node.textContent = t(node.getAttribute('data-text'));
    });
  }

  function draw(d) {
    lang = d.language === 'fr' ? 'fr' : 'en';
    translate();
    $('callback-intro').textContent = d.agent ? t('intro', { agent: d.agent }) : t('introNoAgent');
    if (d.status === 'done') { $('callback-done').textContent = t('done'); $('callback-done').hidden = false; return; }
    var box = $('callback-slots');
    box.textContent = '';
    (d.slots || []).forEach(function (s) {
      var input = document.createElement('input');
      input.type = 'radio'; input.name = 'slot'; input.value = s.id;
      input.checked = d.slot === s.id;
      var label = document.createElement('label');
      label.className = 'slot';
      label.setAttribute('data-testid', 'callback-slot');
      label.setAttribute('data-slot', s.id);
      label.appendChild(input);
      label.appendChild(document.createTextNode(s.label));
      box.appendChild(label);
    });
    if (!(d.slots || []).length) error(t('none'));
    if (d.phone && !$('callback-phone').value) $('callback-phone').value = d.phone;
    $('callback-form').hidden = !(d.slots || []).length;
  }

  function load() {
    return call('GET').then(draw).catch(function (e) { error(e.message); });
  }

  $('callback-form').addEventListener('submit', function (ev) {
    ev.preventDefault();
    var chosen = document.querySelector('input[name="slot"]:checked');
    error('');
    if (!chosen) { error(t('pick')); return; }
    var button = $('callback-submit');
    button.disabled = true;
    call('POST', { slot: chosen.value, phone: $('callback-phone').value }).then(function (d) {
      button.disabled = false;
      $('callback-done').textContent = t('scheduled', { when: d.when });
      $('callback-done').hidden = false;
    }).catch(function (e) {
      button.disabled = false;
      error(e.message);
      load();   // a slot may have passed meanwhile: the list is drawn again
    });
  });

  load();
})();
