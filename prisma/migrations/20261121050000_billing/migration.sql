-- AlterTable: what a paid hold was paid with, what an upgrade started from, and when a refund undid it
ALTER TABLE "pool_holds" ADD COLUMN "payment_ref" TEXT,
ADD COLUMN "previous_tier_id" TEXT,
ADD COLUMN "reversed_at" TIMESTAMPTZ(3);

-- AlterTable: accounts flagged by a payment dispute
ALTER TABLE "users" ADD COLUMN "flagged_at" TIMESTAMPTZ(3),
ADD COLUMN "flag_reason" TEXT;

-- CreateTable
CREATE TABLE "stripe_events" (
    "id" TEXT NOT NULL,
    "type" TEXT NOT NULL,
    "received_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "processed_at" TIMESTAMPTZ(3),
    "outcome" TEXT,

    CONSTRAINT "stripe_events_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "pool_holds_payment_ref_key" ON "pool_holds"("payment_ref");
