-- Sample orders for the walking skeleton. actions/order_store.py builds
-- actions/data/orders.db (gitignored) from this file on first use.
CREATE TABLE IF NOT EXISTS orders (
    order_number      TEXT PRIMARY KEY CHECK (length(order_number) = 5),
    status            TEXT NOT NULL
                      CHECK (status IN ('processing', 'shipped', 'delivered', 'cancelled')),
    carrier           TEXT,
    expected_delivery TEXT,          -- ISO date; for 'delivered', the delivery date
    customer_email    TEXT NOT NULL,
    placed_on         TEXT NOT NULL  -- ISO date
);

INSERT INTO orders (order_number, status, carrier, expected_delivery, customer_email, placed_on) VALUES
    ('10234', 'shipped',    'Colissimo',      '2025-06-12', 'claire.martin@example.com', '2025-06-07'),
    ('10235', 'processing', 'Chronopost',     '2025-06-14', 'tom.baker@example.com',     '2025-06-09'),
    ('10236', 'delivered',  'DPD',            '2025-06-03', 'julie.durand@example.fr',   '2025-05-29'),
    ('10237', 'cancelled',  NULL,             NULL,         'sam.wilson@example.com',    '2025-05-30'),
    ('20411', 'shipped',    'UPS',            '2025-06-13', 'marc.petit@example.fr',     '2025-06-08'),
    ('20412', 'delivered',  'Colissimo',      '2025-05-28', 'emma.jones@example.com',    '2025-05-22'),
    ('31007', 'processing', 'Mondial Relay',  '2025-06-18', 'lea.bernard@example.fr',    '2025-06-10'),
    ('45678', 'shipped',    'DHL Express',    '2025-06-11', 'oliver.smith@example.co.uk','2025-06-09');
