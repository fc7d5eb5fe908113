-- AlterTable: a follow's close-out (master kill or guard, max_loss, /unfollow) is a copy trade too,
-- so its realised P&L counts wherever copies' P&L does (copy fees, the daily loss cap); it has no
-- master fill and no master price.
ALTER TABLE "copy_trades" ADD COLUMN "kind" TEXT NOT NULL DEFAULT 'mirror',
ALTER COLUMN "master_fill_id" DROP NOT NULL,
ALTER COLUMN "master_price" DROP NOT NULL;
