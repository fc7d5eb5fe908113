-- AlterTable: an operator can suspend a client (every run and follow stops, nothing new is placed
-- or bought until reinstated) and record who owns the account relationship.
ALTER TABLE "users" ADD COLUMN "suspended_at" TIMESTAMPTZ(3),
ADD COLUMN "suspend_reason" TEXT,
ADD COLUMN "owner" TEXT;
