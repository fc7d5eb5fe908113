-- CreateEnum
CREATE TYPE "RunMode" AS ENUM ('paper', 'live');

-- CreateEnum
CREATE TYPE "RunStatus" AS ENUM ('running', 'stopping', 'stopped', 'killed', 'failed');

-- CreateEnum
CREATE TYPE "RunOrderStatus" AS ENUM ('pending', 'open', 'canceling', 'filled', 'canceled', 'rejected', 'unknown');

-- AlterTable
ALTER TABLE "exchange_credentials" ADD COLUMN     "verified_at" TIMESTAMPTZ(3);

-- AlterTable
ALTER TABLE "tiers" ADD COLUMN     "limits" JSONB;

-- AlterTable
ALTER TABLE "users" ADD COLUMN     "limits" JSONB;

-- CreateTable
CREATE TABLE "trading_runs" (
    "id" UUID NOT NULL,
    "user_id" UUID NOT NULL,
    "seq" INTEGER NOT NULL,
    "mode" "RunMode" NOT NULL,
    "strategy" TEXT NOT NULL,
    "exchange" TEXT NOT NULL,
    "symbol" TEXT NOT NULL,
    "timeframe" TEXT NOT NULL,
    "capital_usd" DECIMAL(18,2) NOT NULL,
    "params" JSONB NOT NULL,
    "credential_label" TEXT,
    "status" "RunStatus" NOT NULL DEFAULT 'running',
    "stop_reason" TEXT,
    "stop_detail" TEXT,
    "flatten" BOOLEAN NOT NULL DEFAULT false,
    "strategy_state" JSONB,
    "last_candle_at" TIMESTAMPTZ(3),
    "started_at" TIMESTAMPTZ(3) NOT NULL,
    "stopped_at" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "trading_runs_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "run_orders" (
    "id" UUID NOT NULL,
    "run_id" UUID NOT NULL,
    "client_order_id" TEXT NOT NULL,
    "tag" TEXT NOT NULL,
    "attempt" INTEGER NOT NULL,
    "side" TEXT NOT NULL,
    "type" TEXT NOT NULL,
    "price" DECIMAL(30,12) NOT NULL,
    "qty" DECIMAL(30,12) NOT NULL,
    "filled_qty" DECIMAL(30,12) NOT NULL DEFAULT 0,
    "status" "RunOrderStatus" NOT NULL DEFAULT 'pending',
    "exchange_order_id" TEXT,
    "reject_reason" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "run_orders_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "run_fills" (
    "id" UUID NOT NULL,
    "run_id" UUID NOT NULL,
    "order_id" UUID NOT NULL,
    "trade_id" TEXT NOT NULL,
    "side" TEXT NOT NULL,
    "price" DECIMAL(30,12) NOT NULL,
    "qty" DECIMAL(30,12) NOT NULL,
    "fee" DECIMAL(30,12) NOT NULL,
    "realized_pnl" DECIMAL(30,12) NOT NULL,
    "executed_at" TIMESTAMPTZ(3) NOT NULL,
    "delivered" BOOLEAN NOT NULL DEFAULT false,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "run_fills_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "kill_switches" (
    "scope" TEXT NOT NULL,
    "engaged" BOOLEAN NOT NULL,
    "reason" TEXT,
    "actor" TEXT,
    "engaged_at" TIMESTAMPTZ(3),
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "kill_switches_pkey" PRIMARY KEY ("scope")
);

-- CreateIndex
CREATE INDEX "trading_runs_status_idx" ON "trading_runs"("status");

-- CreateIndex
CREATE UNIQUE INDEX "trading_runs_user_id_seq_key" ON "trading_runs"("user_id", "seq");

-- CreateIndex
CREATE UNIQUE INDEX "run_orders_client_order_id_key" ON "run_orders"("client_order_id");

-- CreateIndex
CREATE INDEX "run_orders_run_id_status_idx" ON "run_orders"("run_id", "status");

-- CreateIndex
CREATE INDEX "run_fills_order_id_idx" ON "run_fills"("order_id");

-- CreateIndex
CREATE INDEX "run_fills_executed_at_idx" ON "run_fills"("executed_at");

-- CreateIndex
CREATE UNIQUE INDEX "run_fills_run_id_trade_id_key" ON "run_fills"("run_id", "trade_id");

-- AddForeignKey
ALTER TABLE "trading_runs" ADD CONSTRAINT "trading_runs_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "run_orders" ADD CONSTRAINT "run_orders_run_id_fkey" FOREIGN KEY ("run_id") REFERENCES "trading_runs"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "run_fills" ADD CONSTRAINT "run_fills_run_id_fkey" FOREIGN KEY ("run_id") REFERENCES "trading_runs"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "run_fills" ADD CONSTRAINT "run_fills_order_id_fkey" FOREIGN KEY ("order_id") REFERENCES "run_orders"("id") ON DELETE CASCADE ON UPDATE CASCADE;
