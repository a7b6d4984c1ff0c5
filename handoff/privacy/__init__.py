"""Customers' data under the GDPR: find, export, erase, keep no longer than needed.

- `finder`: one customer, found by any of their identities (web session, Messenger id, e-mail,
  phone), across the channels their profile links;
- `export`: everything held about them, as JSON and as a readable page (Art. 15, 20);
- `erase`: everything removed, aggregated figures kept but unlinkable (Art. 17);
- `retention`: data older than its kind's retention removed by a background job (Art. 5(1)(e));
- `audit`: what was done, when and by whom, never what was erased;
- `python -m handoff.privacy`: the operator's command for all of it.

The map of where personal data lives, and why: docs/privacy.md.
"""
