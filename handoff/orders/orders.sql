-- Sample orders. handoff/orders/store.py builds handoff/orders/data/orders.db
-- (gitignored) from this file on first use. The assistant and the agents' console read
-- them and change them through one implementation (handoff/orders/desk.py): cancelling
-- and changing the delivery address (only while an order is 'processing'), refunds (at
-- most what was paid) and vouchers. Amounts are in cents.
CREATE TABLE IF NOT EXISTS orders (
    order_number      TEXT PRIMARY KEY CHECK (length(order_number) = 5),
    status            TEXT NOT NULL
                      CHECK (status IN ('processing', 'shipped', 'delivered', 'cancelled')),
    carrier           TEXT,
    expected_delivery TEXT,          -- ISO date; for 'delivered', the delivery date
    customer_email    TEXT NOT NULL,
    placed_on         TEXT NOT NULL, -- ISO date
    delivery_address  TEXT,
    total_cents       INTEGER NOT NULL DEFAULT 0 CHECK (total_cents >= 0),
    currency          TEXT NOT NULL DEFAULT 'EUR'
);

-- Every change asked of an order, by whom, and what came of it: the business's journal, and
-- what makes a change asked twice (same request id: a double click, a retried action) happen
-- once. A refund's amount counts against the order's total while `done`.
CREATE TABLE IF NOT EXISTS order_actions (
    request_id    TEXT PRIMARY KEY,
    order_number  TEXT NOT NULL,
    kind          TEXT NOT NULL
                  CHECK (kind IN ('cancel', 'change_address', 'refund', 'voucher')),
    amount_cents  INTEGER,
    detail        TEXT,              -- the new address; the voucher's code
    actor         TEXT NOT NULL,     -- 'bot:<conversation>' or 'agent:<username>'
    done          INTEGER NOT NULL,
    reason        TEXT,              -- why not, when not done
    at            TEXT NOT NULL      -- ISO time, UTC
);
CREATE INDEX IF NOT EXISTS order_actions_by_order ON order_actions (order_number);

INSERT INTO orders (order_number, status, carrier, expected_delivery, customer_email, placed_on, delivery_address, total_cents, currency) VALUES
    ('10234', 'shipped',    'Colissimo',      '2025-06-12', 'claire.martin@example.com', '2025-06-07', '8 rue des Lilas, 69003 Lyon',          5490, 'EUR'),
    ('10235', 'processing', 'Chronopost',     '2025-06-14', 'tom.baker@example.com',     '2025-06-09', '14 Park Road, Bristol BS8 1TH',       12900, 'EUR'),
    ('10236', 'delivered',  'DPD',            '2025-06-03', 'julie.durand@example.fr',   '2025-05-29', '3 avenue Foch, 33000 Bordeaux',        8990, 'EUR'),
    ('10237', 'cancelled',  NULL,             NULL,         'sam.wilson@example.com',    '2025-05-30', '22 Mill Lane, York YO1 7HB',           3450, 'EUR'),
    ('10238', 'delivered',  'Colissimo',      '2025-05-20', 'tom.baker@example.com',     '2025-05-14', '14 Park Road, Bristol BS8 1TH',        4200, 'EUR'),
    ('20411', 'shipped',    'UPS',            '2025-06-13', 'marc.petit@example.fr',     '2025-06-08', '5 place du Marché, 44000 Nantes',      7600, 'EUR'),
    ('20412', 'delivered',  'Colissimo',      '2025-05-28', 'emma.jones@example.com',    '2025-05-22', '9 Church Street, Leeds LS1 4AP',       2590, 'EUR'),
    ('31007', 'processing', 'Mondial Relay',  '2025-06-18', 'lea.bernard@example.fr',    '2025-06-10', '17 boulevard Victor Hugo, 06000 Nice', 15800, 'EUR'),
    ('31008', 'processing', 'Colissimo',      '2025-06-19', 'hugo.roux@example.fr',      '2025-06-11', '2 rue Nationale, 59000 Lille',         6300, 'EUR'),
    ('45678', 'shipped',    'DHL Express',    '2025-06-11', 'oliver.smith@example.co.uk','2025-06-09', '41 King Street, Manchester M2 4LQ',    21450, 'EUR');
