-- Commerce: catalogue (categories, products, search support), orders, payments, discounts, shipping.
-- Money is numeric(12,2) everywhere; Python reads it as Decimal.

CREATE TABLE categories (
    id       serial PRIMARY KEY,
    slug     text NOT NULL UNIQUE,
    name_es  text NOT NULL,
    -- The import sets it to name_es for a new category and never overwrites it afterwards,
    -- so an operator's translation survives re-imports.
    name_en  text NOT NULL,
    position integer NOT NULL DEFAULT 0
);

CREATE TABLE products (
    id               bigserial PRIMARY KEY,
    retailer_id      text NOT NULL UNIQUE,  -- Meta's catalogue `id` (the SKU)
    name             text NOT NULL,
    description      text NOT NULL DEFAULT '',
    category_id      integer REFERENCES categories (id) ON DELETE SET NULL,
    brand            text,
    condition        text NOT NULL DEFAULT 'new' CHECK (condition IN ('new', 'refurbished', 'used')),
    price            numeric(12, 2) NOT NULL CHECK (price > 0),
    sale_price       numeric(12, 2) CHECK (sale_price > 0 AND sale_price < price),
    currency         char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    stock            integer NOT NULL DEFAULT 0 CHECK (stock >= 0),
    availability     text NOT NULL DEFAULT 'in stock'
                     CHECK (availability IN ('in stock', 'out of stock', 'preorder',
                                             'available for order', 'discontinued')),
    -- What a customer can buy right now; every list puts these first.
    in_stock         boolean GENERATED ALWAYS AS (availability = 'in stock' AND stock > 0) STORED,
    popularity_score real NOT NULL DEFAULT 0,
    featured         boolean NOT NULL DEFAULT false,
    image_url        text,
    link             text,
    -- Accent-free, lower-case copies written by the application (bot.intent.normalize.fold), so
    -- search needs neither `unaccent` nor `pg_trgm`. search_strong covers what names the product
    -- (name, brand, category), search_vector adds the description; a match in the first ranks higher.
    search_name      text NOT NULL DEFAULT '',
    search_extra     text NOT NULL DEFAULT '',
    search_body      text NOT NULL DEFAULT '',
    search_strong    tsvector GENERATED ALWAYS AS (
                         setweight(to_tsvector('spanish'::regconfig, search_name), 'A')
                         || setweight(to_tsvector('spanish'::regconfig, search_extra), 'B')
                     ) STORED,
    search_vector    tsvector GENERATED ALWAYS AS (
                         setweight(to_tsvector('spanish'::regconfig, search_name), 'A')
                         || setweight(to_tsvector('spanish'::regconfig, search_extra), 'B')
                         || setweight(to_tsvector('spanish'::regconfig, search_body), 'C')
                     ) STORED,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX products_search_idx ON products USING gin (search_vector);
CREATE INDEX products_strong_idx ON products USING gin (search_strong);
-- The order of every product list: in stock first, then best sellers. Search walks these
-- (index-only, hence the INCLUDE) to find the best matches of a common word without ranking
-- thousands of rows.
CREATE INDEX products_rank_idx ON products (in_stock DESC, popularity_score DESC, id)
    INCLUDE (search_strong) WHERE availability <> 'discontinued';
CREATE INDEX products_category_rank_idx
    ON products (category_id, in_stock DESC, popularity_score DESC, id)
    INCLUDE (search_strong) WHERE availability <> 'discontinued';
-- Featured first, then popular: the suggestions shown when a search finds nothing.
CREATE INDEX products_suggest_idx ON products (featured DESC, popularity_score DESC, id)
    WHERE in_stock;
CREATE INDEX products_offers_idx ON products ((sale_price / price), popularity_score DESC, id)
    WHERE sale_price IS NOT NULL AND in_stock;

-- Words of the catalogue (folded) with the number of products using them: the vocabulary that
-- typo correction compares query words against. Rebuilt by the import.
CREATE TABLE search_terms (
    term      text PRIMARY KEY,
    doc_count integer NOT NULL CHECK (doc_count > 0)
);

-- Stems of what names the products (search_strong) and how many products have each: from these
-- search predicts whether a query is common enough to walk the ranking instead of ranking every
-- match. Rebuilt by the import.
CREATE TABLE search_lexemes (
    lexeme text PRIMARY KEY,
    docs   integer NOT NULL CHECK (docs > 0)
);

-- One row. `revision` changes whenever the catalogue's text changes, so every bot process can
-- tell that its in-memory copy of search_terms is stale with one cheap read.
CREATE TABLE catalog_state (
    singleton  boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    revision   uuid NOT NULL DEFAULT gen_random_uuid(),
    changed_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO catalog_state DEFAULT VALUES;

-- Counts behind the category menu; the import refreshes it (CONCURRENTLY, hence the unique index).
CREATE MATERIALIZED VIEW category_summary AS
SELECT c.id AS category_id,
       c.slug,
       c.name_es,
       c.name_en,
       c.position,
       count(p.id) FILTER (WHERE p.availability <> 'discontinued') AS product_count,
       count(p.id) FILTER (WHERE p.in_stock) AS in_stock_count,
       count(p.id) FILTER (WHERE p.featured AND p.in_stock) AS featured_count,
       count(p.id) FILTER (WHERE p.sale_price IS NOT NULL AND p.in_stock) AS offers_count
FROM categories c
LEFT JOIN products p ON p.category_id = c.id
GROUP BY c.id;
CREATE UNIQUE INDEX category_summary_id_idx ON category_summary (category_id);

CREATE TABLE discount_codes (
    code          text PRIMARY KEY CHECK (code = upper(code)),
    percent_off   numeric(5, 2) CHECK (percent_off > 0 AND percent_off <= 100),
    amount_off    numeric(12, 2) CHECK (amount_off > 0),
    free_shipping boolean NOT NULL DEFAULT false,
    min_subtotal  numeric(12, 2) NOT NULL DEFAULT 0 CHECK (min_subtotal >= 0),
    active        boolean NOT NULL DEFAULT true,
    expires_at    timestamptz,
    max_uses      integer CHECK (max_uses > 0),
    uses          integer NOT NULL DEFAULT 0 CHECK (uses >= 0),
    CHECK (num_nonnulls(percent_off, amount_off) <= 1),
    CHECK (percent_off IS NOT NULL OR amount_off IS NOT NULL OR free_shipping),
    CHECK (max_uses IS NULL OR uses <= max_uses)
);
INSERT INTO discount_codes (code, percent_off, free_shipping, min_subtotal) VALUES
    ('BIENVENIDO10', 10, false, 0),
    ('ENVIOGRATIS', NULL, true, 30);

CREATE TABLE shipping_rules (
    id           serial PRIMARY KEY,
    kind         text NOT NULL CHECK (kind IN ('flat', 'zone', 'free_over')),
    zone         text,
    amount       numeric(12, 2) NOT NULL DEFAULT 0 CHECK (amount >= 0),
    min_subtotal numeric(12, 2) CHECK (min_subtotal >= 0),
    name_es      text NOT NULL,
    name_en      text NOT NULL,
    active       boolean NOT NULL DEFAULT true,
    CHECK ((kind = 'zone') = (zone IS NOT NULL)),
    CHECK (kind <> 'free_over' OR min_subtotal IS NOT NULL)
);
INSERT INTO shipping_rules (kind, zone, amount, min_subtotal, name_es, name_en) VALUES
    ('flat', NULL, 6.50, NULL, 'Envío a domicilio a todo el país', 'Nationwide home delivery'),
    ('zone', 'local', 3.00, NULL, 'Envío en el día dentro de la ciudad', 'Same-day delivery in town'),
    ('free_over', NULL, 0, 60.00, 'Envío gratis en compras desde 60', 'Free shipping on orders from 60');

CREATE TABLE orders (
    id               bigserial PRIMARY KEY,
    order_number     text NOT NULL UNIQUE,
    customer         text NOT NULL,
    status           text NOT NULL DEFAULT 'pending_payment'
                     CHECK (status IN ('pending_payment', 'paid', 'preparing', 'shipped',
                                       'delivered', 'cancelled')),
    subtotal         numeric(12, 2) NOT NULL CHECK (subtotal >= 0),
    shipping_cost    numeric(12, 2) NOT NULL DEFAULT 0 CHECK (shipping_cost >= 0),
    discount         numeric(12, 2) NOT NULL DEFAULT 0 CHECK (discount >= 0),
    total            numeric(12, 2) NOT NULL CHECK (total >= 0),
    currency         char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    payment_method   text NOT NULL
                     CHECK (payment_method IN ('cash_on_delivery', 'bank_transfer', 'payment_link')),
    delivery_address jsonb,
    delivery_option  text,
    discount_code    text,
    -- The wamid of the message that confirmed the order: a redelivered confirmation cannot
    -- create a second order.
    source_wamid     text UNIQUE,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    CHECK (total = subtotal + shipping_cost - discount)
);
CREATE INDEX orders_customer_idx ON orders (customer, created_at DESC);

CREATE TABLE order_items (
    id          bigserial PRIMARY KEY,
    order_id    bigint NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    -- Name, SKU and price are copied so the order still reads right after the catalogue changes.
    product_id  bigint REFERENCES products (id) ON DELETE SET NULL,
    retailer_id text NOT NULL,
    name        text NOT NULL,
    quantity    integer NOT NULL CHECK (quantity > 0),
    unit_price  numeric(12, 2) NOT NULL CHECK (unit_price >= 0)
);
CREATE INDEX order_items_order_idx ON order_items (order_id);

CREATE TABLE payments (
    id           bigserial PRIMARY KEY,
    order_id     bigint NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    provider     text NOT NULL,
    provider_ref text UNIQUE,
    status       text NOT NULL DEFAULT 'pending',
    amount       numeric(12, 2) NOT NULL CHECK (amount >= 0),
    currency     char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    checkout_url text,
    raw          jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at   timestamptz NOT NULL DEFAULT now(),
    paid_at      timestamptz
);
CREATE INDEX payments_order_idx ON payments (order_id);
