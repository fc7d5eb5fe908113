-- AlterTable: the account's public customer id (REST API, dashboard) and its rotation opt-in
ALTER TABLE "users" ADD COLUMN "customer_id" TEXT,
ADD COLUMN "auto_rotate" BOOLEAN NOT NULL DEFAULT false;

-- AlterTable: the self-hosted machine a license is bound to
ALTER TABLE "licenses" ADD COLUMN "machine_id" TEXT,
ADD COLUMN "machine_bound_at" TIMESTAMPTZ(3);

-- CreateTable
CREATE TABLE "scanner_scans" (
    "id" BIGSERIAL NOT NULL,
    "taken_at" TIMESTAMPTZ(3) NOT NULL,
    "next_scan_at" TIMESTAMPTZ(3) NOT NULL,
    "exchange" TEXT NOT NULL,
    "timeframe" TEXT NOT NULL,
    "lookback_days" INTEGER NOT NULL,
    "rankings" JSONB NOT NULL,
    "failures" JSONB NOT NULL,
    "candles" INTEGER NOT NULL,
    "duration_ms" INTEGER NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "scanner_scans_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "scanner_rotations" (
    "id" BIGSERIAL NOT NULL,
    "scan_id" BIGINT NOT NULL,
    "run_id" UUID NOT NULL,
    "user_id" UUID NOT NULL,
    "from_symbol" TEXT NOT NULL,
    "to_symbol" TEXT NOT NULL,
    "from_score" DECIMAL(6,2) NOT NULL,
    "to_score" DECIMAL(6,2) NOT NULL,
    "action" TEXT NOT NULL,
    "due_at" TIMESTAMPTZ(3) NOT NULL,
    "status" TEXT NOT NULL DEFAULT 'pending',
    "detail" TEXT,
    "new_run_id" UUID,
    "processed_at" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "scanner_rotations_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "bot_status_reports" (
    "id" BIGSERIAL NOT NULL,
    "user_id" UUID NOT NULL,
    "license_id" UUID NOT NULL,
    "received_at" TIMESTAMPTZ(3) NOT NULL,
    "bot_version" TEXT NOT NULL,
    "equity_usd" DECIMAL(18,2) NOT NULL,
    "positions" JSONB NOT NULL,
    "payload" JSONB NOT NULL,

    CONSTRAINT "bot_status_reports_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "bot_trades" (
    "id" UUID NOT NULL,
    "user_id" UUID NOT NULL,
    "license_id" UUID NOT NULL,
    "trade_id" TEXT NOT NULL,
    "symbol" TEXT NOT NULL,
    "side" TEXT NOT NULL,
    "price" DECIMAL(30,12) NOT NULL,
    "qty" DECIMAL(30,12) NOT NULL,
    "fee" DECIMAL(30,12) NOT NULL DEFAULT 0,
    "realized_pnl" DECIMAL(30,12),
    "executed_at" TIMESTAMPTZ(3) NOT NULL,
    "received_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "bot_trades_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "api_rate_limits" (
    "key" TEXT NOT NULL,
    "tat" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "api_rate_limits_pkey" PRIMARY KEY ("key")
);

-- CreateIndex
CREATE UNIQUE INDEX "users_customer_id_key" ON "users"("customer_id");

-- CreateIndex
CREATE INDEX "scanner_scans_taken_at_idx" ON "scanner_scans"("taken_at");

-- CreateIndex
CREATE INDEX "scanner_rotations_status_due_at_idx" ON "scanner_rotations"("status", "due_at");

-- CreateIndex
CREATE INDEX "scanner_rotations_user_id_idx" ON "scanner_rotations"("user_id");

-- CreateIndex
CREATE UNIQUE INDEX "scanner_rotations_scan_id_run_id_key" ON "scanner_rotations"("scan_id", "run_id");

-- CreateIndex
CREATE INDEX "bot_status_reports_user_id_received_at_idx" ON "bot_status_reports"("user_id", "received_at");

-- CreateIndex
CREATE INDEX "bot_status_reports_received_at_idx" ON "bot_status_reports"("received_at");

-- CreateIndex
CREATE INDEX "bot_trades_user_id_executed_at_idx" ON "bot_trades"("user_id", "executed_at");

-- CreateIndex
CREATE UNIQUE INDEX "bot_trades_user_id_trade_id_key" ON "bot_trades"("user_id", "trade_id");

-- AddForeignKey
ALTER TABLE "scanner_rotations" ADD CONSTRAINT "scanner_rotations_scan_id_fkey" FOREIGN KEY ("scan_id") REFERENCES "scanner_scans"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "scanner_rotations" ADD CONSTRAINT "scanner_rotations_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "bot_status_reports" ADD CONSTRAINT "bot_status_reports_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "bot_trades" ADD CONSTRAINT "bot_trades_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE;
