-- 0001_schema.sql - the legacy shop: one MariaDB schema, foreign keys everywhere,
-- product attributes as EAV rows. Forward-only: never edit an applied file,
-- add 0002_... instead (soukctl refuses to run when an applied file changed).

CREATE TABLE users (
    id            BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
    email         VARCHAR(254) NOT NULL,
    password_hash VARCHAR(128) NOT NULL,
    name          VARCHAR(200) NOT NULL,
    role          ENUM('customer','admin') NOT NULL DEFAULT 'customer',
    created_at    DATETIME(3)  NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    UNIQUE KEY users_email (email)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- One shipping address per user (the legacy shop never had an address book).
CREATE TABLE addresses (
    user_id     BIGINT       NOT NULL PRIMARY KEY,
    line1       VARCHAR(200) NOT NULL,
    line2       VARCHAR(200) NOT NULL DEFAULT '',
    city        VARCHAR(100) NOT NULL,
    postal_code VARCHAR(20)  NOT NULL,
    country     CHAR(2)      NOT NULL,
    updated_at  DATETIME(3)  NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    CONSTRAINT addresses_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE categories (
    id        BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
    slug      VARCHAR(100) NOT NULL,
    name      VARCHAR(200) NOT NULL,
    parent_id BIGINT       NULL,
    UNIQUE KEY categories_slug (slug),
    CONSTRAINT categories_parent FOREIGN KEY (parent_id) REFERENCES categories (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE products (
    id          BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
    sku         VARCHAR(64)  NOT NULL,
    name        VARCHAR(200) NOT NULL,
    description TEXT         NOT NULL,
    category_id BIGINT       NOT NULL,
    brand       VARCHAR(100) NOT NULL DEFAULT '',
    price_minor BIGINT       NOT NULL,
    currency    CHAR(3)      NOT NULL DEFAULT 'EUR',
    created_at  DATETIME(3)  NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    updated_at  DATETIME(3)  NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
    UNIQUE KEY products_sku (sku),
    KEY products_category (category_id),
    KEY products_price (price_minor),
    CONSTRAINT products_category FOREIGN KEY (category_id) REFERENCES categories (id),
    CONSTRAINT products_price_nonneg CHECK (price_minor >= 0)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- EAV: every attribute a row. Reading a product joins these back together.
CREATE TABLE product_attributes (
    product_id BIGINT       NOT NULL,
    name       VARCHAR(64)  NOT NULL,
    value      VARCHAR(255) NOT NULL,
    PRIMARY KEY (product_id, name),
    KEY product_attributes_name_value (name, value),
    CONSTRAINT product_attributes_product FOREIGN KEY (product_id) REFERENCES products (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE inventory (
    product_id BIGINT      NOT NULL PRIMARY KEY,
    stock      INT         NOT NULL DEFAULT 0,
    updated_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
    CONSTRAINT inventory_product FOREIGN KEY (product_id) REFERENCES products (id) ON DELETE CASCADE,
    CONSTRAINT inventory_stock_nonneg CHECK (stock >= 0)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE carts (
    id         BIGINT      NOT NULL AUTO_INCREMENT PRIMARY KEY,
    user_id    BIGINT      NOT NULL,
    created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    updated_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
    UNIQUE KEY carts_user (user_id),
    CONSTRAINT carts_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE cart_items (
    cart_id    BIGINT      NOT NULL,
    product_id BIGINT      NOT NULL,
    quantity   INT         NOT NULL,
    added_at   DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    PRIMARY KEY (cart_id, product_id),
    KEY cart_items_product (product_id),
    CONSTRAINT cart_items_cart FOREIGN KEY (cart_id) REFERENCES carts (id) ON DELETE CASCADE,
    CONSTRAINT cart_items_product FOREIGN KEY (product_id) REFERENCES products (id) ON DELETE CASCADE,
    CONSTRAINT cart_items_quantity CHECK (quantity > 0)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- An order copies prices and the shipping address at the moment of checkout.
CREATE TABLE orders (
    id               BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
    user_id          BIGINT       NOT NULL,
    status           ENUM('PENDING','CONFIRMED','CANCELLED','REJECTED') NOT NULL,
    total_minor      BIGINT       NOT NULL,
    currency         CHAR(3)      NOT NULL,
    idempotency_key  VARCHAR(128) NULL,
    request_hash     CHAR(64)     NULL,
    ship_line1       VARCHAR(200) NOT NULL DEFAULT '',
    ship_line2       VARCHAR(200) NOT NULL DEFAULT '',
    ship_city        VARCHAR(100) NOT NULL DEFAULT '',
    ship_postal_code VARCHAR(20)  NOT NULL DEFAULT '',
    ship_country     CHAR(2)      NOT NULL DEFAULT '',
    created_at       DATETIME(3)  NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    UNIQUE KEY orders_idempotency (user_id, idempotency_key),
    KEY orders_user_created (user_id, created_at),
    KEY orders_created (created_at),
    CONSTRAINT orders_user FOREIGN KEY (user_id) REFERENCES users (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE order_items (
    order_id         BIGINT  NOT NULL,
    product_id       BIGINT  NOT NULL,
    quantity         INT     NOT NULL,
    unit_price_minor BIGINT  NOT NULL,
    currency         CHAR(3) NOT NULL,
    PRIMARY KEY (order_id, product_id),
    KEY order_items_product (product_id),
    CONSTRAINT order_items_order FOREIGN KEY (order_id) REFERENCES orders (id) ON DELETE CASCADE,
    CONSTRAINT order_items_product FOREIGN KEY (product_id) REFERENCES products (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE payments (
    id           BIGINT      NOT NULL AUTO_INCREMENT PRIMARY KEY,
    order_id     BIGINT      NOT NULL,
    amount_minor BIGINT      NOT NULL,
    currency     CHAR(3)     NOT NULL,
    status       ENUM('APPROVED','DECLINED','REFUNDED') NOT NULL,
    provider_ref VARCHAR(64) NOT NULL,
    card_last4   CHAR(4)     NOT NULL,
    created_at   DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    UNIQUE KEY payments_order (order_id),
    CONSTRAINT payments_order FOREIGN KEY (order_id) REFERENCES orders (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE reviews (
    id         BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
    product_id BIGINT       NOT NULL,
    user_id    BIGINT       NOT NULL,
    rating     TINYINT      NOT NULL,
    title      VARCHAR(200) NOT NULL DEFAULT '',
    body       TEXT         NOT NULL,
    created_at DATETIME(3)  NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    UNIQUE KEY reviews_product_user (product_id, user_id),
    KEY reviews_product_created (product_id, created_at),
    CONSTRAINT reviews_product FOREIGN KEY (product_id) REFERENCES products (id) ON DELETE CASCADE,
    CONSTRAINT reviews_user FOREIGN KEY (user_id) REFERENCES users (id),
    CONSTRAINT reviews_rating CHECK (rating BETWEEN 1 AND 5)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
