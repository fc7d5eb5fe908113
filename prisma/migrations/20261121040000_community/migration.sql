-- CreateTable
CREATE TABLE "community_sync_requests" (
    "id" BIGSERIAL NOT NULL,
    "user_id" UUID NOT NULL,
    "reason" TEXT NOT NULL,
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "next_attempt_at" TIMESTAMPTZ(3) NOT NULL,
    "locked_until" TIMESTAMPTZ(3),
    "last_error" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "processed_at" TIMESTAMPTZ(3),

    CONSTRAINT "community_sync_requests_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "community_memberships" (
    "platform" "IdentityPlatform" NOT NULL,
    "external_id" TEXT NOT NULL,
    "target_id" TEXT NOT NULL,
    "status" TEXT NOT NULL,
    "invited_at" TIMESTAMPTZ(3),
    "invite_expires_at" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "community_memberships_pkey" PRIMARY KEY ("platform","external_id","target_id")
);

-- CreateIndex
CREATE INDEX "community_sync_requests_user_id_idx" ON "community_sync_requests"("user_id");

-- CreateIndex
CREATE INDEX "community_sync_requests_processed_at_next_attempt_at_idx" ON "community_sync_requests"("processed_at", "next_attempt_at");

-- CreateIndex
CREATE INDEX "community_memberships_platform_target_id_idx" ON "community_memberships"("platform", "target_id");

-- AddForeignKey
ALTER TABLE "community_sync_requests" ADD CONSTRAINT "community_sync_requests_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE;
