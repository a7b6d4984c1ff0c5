/* The context panel: everything the customer told the bot, before the agent types a word
 * (the ticket's summary, reason, slots, entities, intent ranking, contact details left while
 * waiting, earlier conversations on every channel). Raw names get human labels in the agent's
 * language; the panel takes the focus and scrolls from the keyboard (tabindex in index.html).
 * Publishes C.context = {render(conv or null), addSection(fn)}: a view that adds a section of
 * its own (orders.js) gives fn(conv, ticket) -> node, appended at each render.
 */
(function () {
  'use strict';

  var C = window.HandoffConsole;
  var t = window.HandoffI18n.t;
  var el = C.el;
  var label = C.label;
  var extraSections = [];

  function section(titleKey, content, testid) {
    return el('section', { class: 'ctx-section', 'data-testid': testid || null }, [
      el('h3', { text: t(titleKey) }), content
    ]);
  }

  function dl(rows) {
    var list = el('dl', { class: 'kv' });
    rows.forEach(function (r) {
      if (r[1] == null || r[1] === '') return;
      list.appendChild(el('dt', { text: r[0] }));
      list.appendChild(el('dd', { text: r[1], 'data-key': r[2] || null }));
    });
    return list;
  }

  function empty(key) { return el('p', { class: 'empty', text: t(key) }); }

  function valueText(v) {
    if (v == null) return '';
    if (typeof v === 'boolean') return v ? t('yes') : t('no');
    if (typeof v === 'object') { try { return JSON.stringify(v); } catch (e) { return String(v); } }
    return String(v);
  }

  /* A slot's or entity's value as an agent reads it: a language by its name, not its code. */
  function factText(name, v) {
    return name === 'language' && typeof v === 'string' ? label('lang', v) : valueText(v);
  }

  function frustrationText(found) {
    var signals = (found && found.signals) || [];
    if (!signals.length) return t('signal.none');
    return signals.map(function (s) { return t('signal.' + s); }).join(', ');
  }

  function overview(conv, ticket) {
    return dl([
      [t('ctx.reason'), label('reason', ticket.reason), 'reason'],
      [t('ctx.priority'), t('prio.' + Math.max(0, Math.min(2, ticket.priority || 0))), 'priority'],
      [t('ctx.frustration'), frustrationText(ticket.frustration), 'frustration'],
      [t('ctx.language'), label('lang', C.languageOf(conv)), 'language'],
      [t('ctx.channel'), label('channel', ticket.channel), 'channel'],
      [t('ctx.state'), label('state', conv.state), 'state'],
      [t('ctx.position'), conv.state === 'queued' && conv.position != null ? String(conv.position) : null, 'position'],
      [t('ctx.created'), C.fmtTime(ticket.created_at), 'created_at']
    ]);
  }

  function customer(ticket) {
    var c = ticket.customer || {};
    return section('ctx.customer', dl([
      [t('ctx.name'), c.name, 'name'],
      [t('ctx.email'), c.email, 'email'],
      [t('ctx.channel'), c.channel ? label('channel', c.channel) : null, 'customer_channel'],
      [t('ctx.customerId'), c.id, 'customer_id']
    ]), 'context-customer');
  }

  function slots(ticket) {
    var found = ticket.slots || {};
    var rows = Object.keys(found).filter(function (k) {
      var v = found[k];
      return v != null && v !== '' && !(Array.isArray(v) && v.length === 0);
    }).map(function (k) { return [label('slot', k), factText(k, found[k]), k]; });
    return section('ctx.slots', rows.length ? dl(rows) : empty('ctx.noSlots'), 'context-slots');
  }

  function entities(ticket) {
    var ents = Array.isArray(ticket.entities) ? ticket.entities : [];
    return section('ctx.entities', ents.length
      ? el('ul', { class: 'chips' }, ents.map(function (e) {
        return el('li', { class: 'chip' }, [
          el('span', { class: 'chip-key', title: String(e.entity || ''), text: label('slot', e.entity || '?') }), ' ',
          el('span', { class: 'chip-val', text: factText(e.entity, e.value) })
        ]);
      }))
      : empty('ctx.noEntities'), 'context-entities');
  }

  function intents(ticket) {
    var ranking = Array.isArray(ticket.intent_ranking) ? ticket.intent_ranking.slice(0, 5) : [];
    return section('ctx.intents', ranking.length
      ? el('ul', { class: 'intents' }, ranking.map(function (it) {
        var pct = Math.round(Math.max(0, Math.min(1, Number(it.confidence) || 0)) * 100);
        var bar = el('span', { class: 'bar-fill' });
        bar.style.width = pct + '%';   // through the CSSOM: the CSP refuses style attributes
        return el('li', { class: 'intent' }, [
          el('span', { class: 'intent-name', title: String(it.name || ''), text: label('intent', it.name || '?') }),
          el('span', { class: 'bar', 'aria-hidden': 'true' }, [bar]),
          el('span', { class: 'intent-pct', text: pct + ' %' })
        ]);
      }))
      : empty('ctx.noIntents'), 'context-intents');
  }

  /* Earlier conversations of this customer on every channel linked to this one. */
  function earlier(conv, ticket) {
    var list = Array.isArray(conv.earlier) ? conv.earlier
      : (Array.isArray(ticket.earlier_conversations) ? ticket.earlier_conversations : []);
    return section('ctx.earlier', list.length
      ? el('ul', { class: 'earlier' }, list.map(function (e) {
        var b = el('button', { type: 'button', class: 'earlier-item', 'data-conversation-id': e.conversation_id }, [
          el('span', { class: 'earlier-head', 'data-testid': 'earlier-item',
            text: [C.fmtTime(e.created_at), e.channel ? label('channel', e.channel) : '',
              e.reason ? label('reason', e.reason) : ''].filter(Boolean).join(' · ') }),
          e.summary ? el('span', { class: 'earlier-summary', text: String(e.summary) }) : null
        ]);
        b.addEventListener('click', function () { if (e.conversation_id) C.open(e.conversation_id); });
        return el('li', null, [b]);
      }))
      : empty('ctx.noEarlier'), 'context-earlier');
  }

  function render(conv) {
    var body = C.$('context-body');
    C.clear(body);
    if (!conv) {
      body.appendChild(empty('ctx.empty'));
      return;
    }
    var ticket = conv.ticket;
    if (!ticket) {
      body.appendChild(dl([[t('ctx.state'), label('state', conv.state)]]));
      body.appendChild(empty('ctx.noTicket'));
      return;
    }
    var summary = C.summaryOf(ticket);
    if (summary) {
      body.appendChild(section('ctx.summary', el('p', { class: 'summary', 'data-testid': 'context-summary', text: summary })));
    }
    body.appendChild(overview(conv, ticket));
    body.appendChild(customer(ticket));
    body.appendChild(slots(ticket));
    body.appendChild(entities(ticket));
    body.appendChild(intents(ticket));
    var contact = conv.contact || {};
    if (contact.email || contact.phone) {
      // Left by a customer who was told nobody could answer at once: answer them there.
      body.appendChild(section('ctx.contact', dl([[t('ctx.email'), contact.email, 'contact-email'],
        [t('ctx.phone'), contact.phone, 'contact-phone']]), 'context-contact'));
    }
    extraSections.forEach(function (fn) {
      var node = fn(conv, ticket);
      if (node) body.appendChild(node);
    });
    body.appendChild(earlier(conv, ticket));
  }

  C.context = {
    render: render,
    section: section,
    addSection: function (fn) { extraSections.push(fn); }
  };
})();
