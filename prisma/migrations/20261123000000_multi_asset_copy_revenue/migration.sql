-- AlterTable: how the multi-asset router leans for this user
ALTER TABLE "users" ADD COLUMN "risk_tolerance" TEXT NOT NULL DEFAULT 'moderate';

-- AlterTable: order submission priority by tier (the blueprint's execution router)
ALTER TABLE "tiers" ADD COLUMN "execution_priority" TEXT NOT NULL DEFAULT 'normal';
UPDATE "tiers" SET "execution_priority" = 'high' WHERE "id" = 'pro';
UPDATE "tiers" SET "execution_priority" = 'very_high' WHERE "id" = 'elite';
UPDATE "tiers" SET "execution_priority" = 'dedicated' WHERE "id" = 'whale';

-- CreateTable
CREATE TABLE "market_regime_readings" (
    "id" BIGSERIAL NOT NULL,
    "taken_at" TIMESTAMPTZ(3) NOT NULL,
    "regime" TEXT NOT NULL,
    "metrics" JSONB NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "market_regime_readings_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "allocation_decisions" (
    "id" BIGSERIAL NOT NULL,
    "user_id" UUID NOT NULL,
    "reading_id" BIGINT,
    "regime" TEXT NOT NULL,
    "risk_tolerance" TEXT NOT NULL,
    "capital_usd" DECIMAL(18,2) NOT NULL,
    "crypto_pct" DECIMAL(5,2) NOT NULL,
    "equity_pct" DECIMAL(5,2) NOT NULL,
    "derivatives_pct" DECIMAL(5,2) NOT NULL,
    "cash_pct" DECIMAL(5,2) NOT NULL,
    "crypto_usd" DECIMAL(18,2) NOT NULL,
    "equity_usd" DECIMAL(18,2) NOT NULL,
    "derivatives_usd" DECIMAL(18,2) NOT NULL,
    "cash_usd" DECIMAL(18,2) NOT NULL,
    "reason" TEXT NOT NULL,
    "decided_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "allocation_decisions_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "copy_masters" (
    "id" UUID NOT NULL,
    "code" TEXT NOT NULL,
    "run_id" UUID NOT NULL,
    "user_id" UUID NOT NULL,
    "status" TEXT NOT NULL DEFAULT 'active',
    "stop_reason" TEXT,
    "published_at" TIMESTAMPTZ(3) NOT NULL,
    "stopped_at" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "copy_masters_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "copy_follows" (
    "id" UUID NOT NULL,
    "master_id" UUID NOT NULL,
    "user_id" UUID NOT NULL,
    "mode" "RunMode" NOT NULL,
    "credential_label" TEXT,
    "capital_usd" DECIMAL(18,2) NOT NULL,
    "max_capital_usd" DECIMAL(18,2),
    "max_loss_usd" DECIMAL(18,2),
    "status" TEXT NOT NULL DEFAULT 'active',
    "stop_reason" TEXT,
    "stop_detail" TEXT,
    "base_qty" DECIMAL(30,12) NOT NULL DEFAULT 0,
    "cost_usd" DECIMAL(30,12) NOT NULL DEFAULT 0,
    "realized_pnl_usd" DECIMAL(30,12) NOT NULL DEFAULT 0,
    "fees_usd" DECIMAL(30,12) NOT NULL DEFAULT 0,
    "started_at" TIMESTAMPTZ(3) NOT NULL,
    "stopped_at" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "copy_follows_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "copy_trades" (
    "id" UUID NOT NULL,
    "follow_id" UUID NOT NULL,
    "master_fill_id" UUID NOT NULL,
    "client_order_id" TEXT NOT NULL,
    "side" TEXT NOT NULL,
    "qty" DECIMAL(30,12) NOT NULL,
    "filled_qty" DECIMAL(30,12) NOT NULL DEFAULT 0,
    "price" DECIMAL(30,12),
    "master_price" DECIMAL(30,12) NOT NULL,
    "fee" DECIMAL(30,12) NOT NULL DEFAULT 0,
    "realized_pnl" DECIMAL(30,12) NOT NULL DEFAULT 0,
    "status" TEXT NOT NULL,
    "reason" TEXT,
    "signal_at" TIMESTAMPTZ(3) NOT NULL,
    "submitted_at" TIMESTAMPTZ(3),
    "completed_at" TIMESTAMPTZ(3),
    "latency_ms" INTEGER,
    "slippage_bps" DECIMAL(12,4),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "copy_trades_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "fee_accruals" (
    "id" BIGSERIAL NOT NULL,
    "kind" TEXT NOT NULL,
    "subject_id" UUID NOT NULL,
    "user_id" UUID NOT NULL,
    "master_user_id" UUID,
    "period_end" TIMESTAMPTZ(3) NOT NULL,
    "cumulative_pnl_usd" DECIMAL(30,12) NOT NULL,
    "hwm_before_usd" DECIMAL(30,12) NOT NULL,
    "hwm_after_usd" DECIMAL(30,12) NOT NULL,
    "gain_usd" DECIMAL(30,12) NOT NULL,
    "platform_fee_usd" DECIMAL(18,2) NOT NULL,
    "master_fee_usd" DECIMAL(18,2) NOT NULL DEFAULT 0,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "fee_accruals_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "market_regime_readings_taken_at_idx" ON "market_regime_readings"("taken_at");

-- CreateIndex
CREATE INDEX "allocation_decisions_user_id_decided_at_idx" ON "allocation_decisions"("user_id", "decided_at");

-- CreateIndex
CREATE INDEX "allocation_decisions_reading_id_idx" ON "allocation_decisions"("reading_id");

-- CreateIndex
CREATE UNIQUE INDEX "copy_masters_code_key" ON "copy_masters"("code");

-- CreateIndex
CREATE UNIQUE INDEX "copy_masters_run_id_key" ON "copy_masters"("run_id");

-- CreateIndex
CREATE INDEX "copy_masters_user_id_idx" ON "copy_masters"("user_id");

-- CreateIndex
CREATE INDEX "copy_masters_status_idx" ON "copy_masters"("status");

-- CreateIndex
CREATE UNIQUE INDEX "copy_follows_master_id_user_id_key" ON "copy_follows"("master_id", "user_id");

-- CreateIndex
CREATE INDEX "copy_follows_user_id_idx" ON "copy_follows"("user_id");

-- CreateIndex
CREATE INDEX "copy_follows_status_idx" ON "copy_follows"("status");

-- CreateIndex
CREATE UNIQUE INDEX "copy_trades_client_order_id_key" ON "copy_trades"("client_order_id");

-- CreateIndex
CREATE UNIQUE INDEX "copy_trades_follow_id_master_fill_id_key" ON "copy_trades"("follow_id", "master_fill_id");

-- CreateIndex
CREATE INDEX "copy_trades_master_fill_id_idx" ON "copy_trades"("master_fill_id");

-- CreateIndex
CREATE INDEX "copy_trades_completed_at_idx" ON "copy_trades"("completed_at");

-- CreateIndex
CREATE UNIQUE INDEX "fee_accruals_kind_subject_id_period_end_key" ON "fee_accruals"("kind", "subject_id", "period_end");

-- CreateIndex
CREATE INDEX "fee_accruals_user_id_idx" ON "fee_accruals"("user_id");

-- CreateIndex
CREATE INDEX "fee_accruals_period_end_idx" ON "fee_accruals"("period_end");

-- AddForeignKey
ALTER TABLE "allocation_decisions" ADD CONSTRAINT "allocation_decisions_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "allocation_decisions" ADD CONSTRAINT "allocation_decisions_reading_id_fkey" FOREIGN KEY ("reading_id") REFERENCES "market_regime_readings"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "copy_masters" ADD CONSTRAINT "copy_masters_run_id_fkey" FOREIGN KEY ("run_id") REFERENCES "trading_runs"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "copy_masters" ADD CONSTRAINT "copy_masters_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "copy_follows" ADD CONSTRAINT "copy_follows_master_id_fkey" FOREIGN KEY ("master_id") REFERENCES "copy_masters"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "copy_follows" ADD CONSTRAINT "copy_follows_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "copy_trades" ADD CONSTRAINT "copy_trades_follow_id_fkey" FOREIGN KEY ("follow_id") REFERENCES "copy_follows"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "copy_trades" ADD CONSTRAINT "copy_trades_master_fill_id_fkey" FOREIGN KEY ("master_fill_id") REFERENCES "run_fills"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "fee_accruals" ADD CONSTRAINT "fee_accruals_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
