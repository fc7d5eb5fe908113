-- AlterTable
ALTER TABLE "trading_runs" ADD COLUMN     "lease_until" TIMESTAMPTZ(3),
ADD COLUMN     "owner_id" TEXT;

-- AlterTable
ALTER TABLE "users" ADD COLUMN     "summary_hour" INTEGER NOT NULL DEFAULT 20;

-- CreateTable
CREATE TABLE "run_equity_snapshots" (
    "run_id" UUID NOT NULL,
    "at" TIMESTAMPTZ(3) NOT NULL,
    "equity" DECIMAL(30,12) NOT NULL,
    "realized_pnl" DECIMAL(30,12) NOT NULL,
    "price" DECIMAL(30,12) NOT NULL,

    CONSTRAINT "run_equity_snapshots_pkey" PRIMARY KEY ("run_id","at")
);

-- CreateTable
CREATE TABLE "alert_outbox" (
    "id" BIGSERIAL NOT NULL,
    "event_id" TEXT NOT NULL,
    "user_id" UUID NOT NULL,
    "alert_type" TEXT NOT NULL,
    "priority" INTEGER NOT NULL,
    "text" TEXT NOT NULL,
    "payload" JSONB NOT NULL,
    "status" TEXT NOT NULL DEFAULT 'pending',
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "next_attempt_at" TIMESTAMPTZ(3) NOT NULL,
    "locked_by" TEXT,
    "locked_until" TIMESTAMPTZ(3),
    "delivered_at" TIMESTAMPTZ(3),
    "last_error" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "alert_outbox_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "alert_deliveries" (
    "alert_id" BIGINT NOT NULL,
    "identity_id" UUID NOT NULL,
    "delivered_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "alert_deliveries_pkey" PRIMARY KEY ("alert_id","identity_id")
);

-- CreateTable
CREATE TABLE "scheduled_job_runs" (
    "job" TEXT NOT NULL,
    "slot" TIMESTAMPTZ(3) NOT NULL,
    "replica" TEXT NOT NULL,
    "started_at" TIMESTAMPTZ(3) NOT NULL,
    "finished_at" TIMESTAMPTZ(3),
    "outcome" TEXT,

    CONSTRAINT "scheduled_job_runs_pkey" PRIMARY KEY ("job","slot")
);

-- CreateTable
CREATE TABLE "leases" (
    "name" TEXT NOT NULL,
    "holder" TEXT NOT NULL,
    "until" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "leases_pkey" PRIMARY KEY ("name")
);

-- CreateIndex
CREATE INDEX "trading_runs_status_lease_until_idx" ON "trading_runs"("status", "lease_until");

-- CreateIndex
CREATE UNIQUE INDEX "alert_outbox_event_id_key" ON "alert_outbox"("event_id");

-- CreateIndex
CREATE INDEX "alert_outbox_status_next_attempt_at_idx" ON "alert_outbox"("status", "next_attempt_at");

-- CreateIndex
CREATE INDEX "alert_outbox_user_id_id_idx" ON "alert_outbox"("user_id", "id");

-- AddForeignKey
ALTER TABLE "run_equity_snapshots" ADD CONSTRAINT "run_equity_snapshots_run_id_fkey" FOREIGN KEY ("run_id") REFERENCES "trading_runs"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "alert_outbox" ADD CONSTRAINT "alert_outbox_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "alert_deliveries" ADD CONSTRAINT "alert_deliveries_alert_id_fkey" FOREIGN KEY ("alert_id") REFERENCES "alert_outbox"("id") ON DELETE CASCADE ON UPDATE CASCADE;
