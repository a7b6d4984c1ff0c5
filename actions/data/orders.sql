-- Sample orders. actions/order_store.py builds actions/data/orders.db
-- (gitignored) from this file on first use. The assistant reads them
-- (order status) and writes them (cancelling, changing the delivery address,
-- both only while an order is 'processing').
CREATE TABLE IF NOT EXISTS orders (
    order_number      TEXT PRIMARY KEY CHECK (length(order_number) = 5),
    status            TEXT NOT NULL
                      CHECK (status IN ('processing', 'shipped', 'delivered', 'cancelled')),
    carrier           TEXT,
    expected_delivery TEXT,          -- ISO date; for 'delivered', the delivery date
    customer_email    TEXT NOT NULL,
    placed_on         TEXT NOT NULL, -- ISO date
    delivery_address  TEXT
);

INSERT INTO orders (order_number, status, carrier, expected_delivery, customer_email, placed_on, delivery_address) VALUES
    ('10234', 'shipped',    'Colissimo',      '2025-06-12', 'claire.martin@example.com', '2025-06-07', '8 rue des Lilas, 69003 Lyon'),
    ('10235', 'processing', 'Chronopost',     '2025-06-14', 'tom.baker@example.com',     '2025-06-09', '14 Park Road, Bristol BS8 1TH'),
    ('10236', 'delivered',  'DPD',            '2025-06-03', 'julie.durand@example.fr',   '2025-05-29', '3 avenue Foch, 33000 Bordeaux'),
    ('10237', 'cancelled',  NULL,             NULL,         'sam.wilson@example.com',    '2025-05-30', '22 Mill Lane, York YO1 7HB'),
    ('20411', 'shipped',    'UPS',            '2025-06-13', 'marc.petit@example.fr',     '2025-06-08', '5 place du Marché, 44000 Nantes'),
    ('20412', 'delivered',  'Colissimo',      '2025-05-28', 'emma.jones@example.com',    '2025-05-22', '9 Church Street, Leeds LS1 4AP'),
    ('31007', 'processing', 'Mondial Relay',  '2025-06-18', 'lea.bernard@example.fr',    '2025-06-10', '17 boulevard Victor Hugo, 06000 Nice'),
    ('31008', 'processing', 'Colissimo',      '2025-06-19', 'hugo.roux@example.fr',      '2025-06-11', '2 rue Nationale, 59000 Lille'),
    ('45678', 'shipped',    'DHL Express',    '2025-06-11', 'oliver.smith@example.co.uk','2025-06-09', '41 King Street, Manchester M2 4LQ');
