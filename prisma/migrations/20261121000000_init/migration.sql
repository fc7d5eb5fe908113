-- CreateEnum
CREATE TYPE "IdentityPlatform" AS ENUM ('telegram', 'discord', 'machine');

-- CreateEnum
CREATE TYPE "LicenseStatus" AS ENUM ('issued', 'active', 'revoked');

-- CreateEnum
CREATE TYPE "PoolHoldKind" AS ENUM ('purchase', 'upgrade');

-- CreateEnum
CREATE TYPE "PoolHoldStatus" AS ENUM ('held', 'committed', 'released');

-- CreateTable
CREATE TABLE "users" (
    "id" UUID NOT NULL,
    "display_name" TEXT,
    "timezone" TEXT NOT NULL DEFAULT 'UTC',
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "users_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "identities" (
    "id" UUID NOT NULL,
    "user_id" UUID NOT NULL,
    "platform" "IdentityPlatform" NOT NULL,
    "external_id" TEXT NOT NULL,
    "username" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "identities_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "tiers" (
    "id" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "rank" INTEGER NOT NULL,
    "max_capital_usd" DECIMAL(14,2) NOT NULL,
    "active" BOOLEAN NOT NULL DEFAULT true,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "tiers_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "tiers_max_capital_positive" CHECK ("max_capital_usd" > 0)
);

-- CreateTable
CREATE TABLE "licenses" (
    "id" UUID NOT NULL,
    "key_hash" TEXT NOT NULL,
    "key_last4" TEXT NOT NULL,
    "tier_id" TEXT NOT NULL,
    "status" "LicenseStatus" NOT NULL DEFAULT 'issued',
    "capital_usd" DECIMAL(14,2) NOT NULL,
    "user_id" UUID,
    "bound_identity_id" UUID,
    "activated_at" TIMESTAMPTZ(3),
    "revoked_at" TIMESTAMPTZ(3),
    "revoked_reason" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "licenses_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "licenses_capital_non_negative" CHECK ("capital_usd" >= 0)
);

-- CreateTable
CREATE TABLE "capacity_pool" (
    "id" INTEGER NOT NULL DEFAULT 1,
    "cap_usd" DECIMAL(14,2) NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "capacity_pool_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "capacity_pool_singleton" CHECK ("id" = 1),
    CONSTRAINT "capacity_pool_cap_non_negative" CHECK ("cap_usd" >= 0)
);

-- CreateTable
CREATE TABLE "pool_holds" (
    "id" UUID NOT NULL,
    "user_id" UUID NOT NULL,
    "tier_id" TEXT NOT NULL,
    "license_id" UUID,
    "kind" "PoolHoldKind" NOT NULL,
    "status" "PoolHoldStatus" NOT NULL DEFAULT 'held',
    "amount_usd" DECIMAL(14,2) NOT NULL,
    "price_usd" DECIMAL(14,2) NOT NULL,
    "external_ref" TEXT,
    "expires_at" TIMESTAMPTZ(3) NOT NULL,
    "committed_at" TIMESTAMPTZ(3),
    "released_at" TIMESTAMPTZ(3),
    "release_reason" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "pool_holds_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "pool_holds_amount_positive" CHECK ("amount_usd" > 0),
    CONSTRAINT "pool_holds_price_non_negative" CHECK ("price_usd" >= 0)
);

-- CreateTable
CREATE TABLE "audit_log" (
    "id" BIGSERIAL NOT NULL,
    "actor_type" TEXT NOT NULL,
    "actor_id" TEXT,
    "action" TEXT NOT NULL,
    "entity_type" TEXT NOT NULL,
    "entity_id" TEXT,
    "before" JSONB,
    "after" JSONB,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "audit_log_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "identities_platform_external_id_key" ON "identities"("platform", "external_id");

-- CreateIndex
CREATE UNIQUE INDEX "identities_user_id_platform_key" ON "identities"("user_id", "platform");

-- CreateIndex
CREATE UNIQUE INDEX "tiers_rank_key" ON "tiers"("rank");

-- CreateIndex
CREATE UNIQUE INDEX "licenses_key_hash_key" ON "licenses"("key_hash");

-- CreateIndex
CREATE INDEX "licenses_tier_id_idx" ON "licenses"("tier_id");

-- CreateIndex
CREATE INDEX "licenses_user_id_idx" ON "licenses"("user_id");

-- CreateIndex
CREATE INDEX "licenses_bound_identity_id_idx" ON "licenses"("bound_identity_id");

-- CreateIndex
CREATE INDEX "licenses_status_idx" ON "licenses"("status");

-- CreateIndex
CREATE UNIQUE INDEX "pool_holds_external_ref_key" ON "pool_holds"("external_ref");

-- CreateIndex
CREATE INDEX "pool_holds_user_id_idx" ON "pool_holds"("user_id");

-- CreateIndex
CREATE INDEX "pool_holds_tier_id_idx" ON "pool_holds"("tier_id");

-- CreateIndex
CREATE INDEX "pool_holds_license_id_idx" ON "pool_holds"("license_id");

-- CreateIndex
CREATE INDEX "pool_holds_status_expires_at_idx" ON "pool_holds"("status", "expires_at");

-- CreateIndex
CREATE INDEX "audit_log_entity_type_entity_id_idx" ON "audit_log"("entity_type", "entity_id");

-- CreateIndex
CREATE INDEX "audit_log_created_at_idx" ON "audit_log"("created_at");

-- AddForeignKey
ALTER TABLE "identities" ADD CONSTRAINT "identities_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "licenses" ADD CONSTRAINT "licenses_tier_id_fkey" FOREIGN KEY ("tier_id") REFERENCES "tiers"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "licenses" ADD CONSTRAINT "licenses_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "licenses" ADD CONSTRAINT "licenses_bound_identity_id_fkey" FOREIGN KEY ("bound_identity_id") REFERENCES "identities"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "pool_holds" ADD CONSTRAINT "pool_holds_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "pool_holds" ADD CONSTRAINT "pool_holds_tier_id_fkey" FOREIGN KEY ("tier_id") REFERENCES "tiers"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "pool_holds" ADD CONSTRAINT "pool_holds_license_id_fkey" FOREIGN KEY ("license_id") REFERENCES "licenses"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- Seed: the seed document's tiers (price is derived: 10% of max capital) and the global pool.
INSERT INTO "tiers" ("id", "name", "rank", "max_capital_usd", "updated_at") VALUES
    ('starter', 'Starter', 1, 5000.00, CURRENT_TIMESTAMP),
    ('trader', 'Trader', 2, 10000.00, CURRENT_TIMESTAMP),
    ('pro', 'Pro', 3, 25000.00, CURRENT_TIMESTAMP),
    ('elite', 'Elite', 4, 50000.00, CURRENT_TIMESTAMP),
    ('whale', 'Whale', 5, 100000.00, CURRENT_TIMESTAMP);

INSERT INTO "capacity_pool" ("id", "cap_usd", "updated_at") VALUES (1, 2500000.00, CURRENT_TIMESTAMP);
