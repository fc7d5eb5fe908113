-- AlterEnum
ALTER TYPE "IdentityPlatform" ADD VALUE 'console';

-- CreateTable
CREATE TABLE "exchange_credentials" (
    "id" UUID NOT NULL,
    "user_id" UUID NOT NULL,
    "exchange" TEXT NOT NULL,
    "label" TEXT NOT NULL DEFAULT 'default',
    "api_key_last4" TEXT NOT NULL,
    "has_passphrase" BOOLEAN NOT NULL,
    "ciphertext" BYTEA NOT NULL,
    "nonce" BYTEA NOT NULL,
    "key_version" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "exchange_credentials_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "key_intake_tokens" (
    "id" UUID NOT NULL,
    "token_hash" TEXT NOT NULL,
    "user_id" UUID NOT NULL,
    "exchange" TEXT NOT NULL,
    "platform" "IdentityPlatform" NOT NULL,
    "chat_id" TEXT NOT NULL,
    "expires_at" TIMESTAMPTZ(3) NOT NULL,
    "used_at" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "key_intake_tokens_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "link_codes" (
    "id" UUID NOT NULL,
    "code_hash" TEXT NOT NULL,
    "user_id" UUID NOT NULL,
    "platform" "IdentityPlatform" NOT NULL,
    "expires_at" TIMESTAMPTZ(3) NOT NULL,
    "used_at" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "link_codes_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "alert_preferences" (
    "user_id" UUID NOT NULL,
    "alert_type" TEXT NOT NULL,
    "enabled" BOOLEAN NOT NULL,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "alert_preferences_pkey" PRIMARY KEY ("user_id","alert_type")
);

-- CreateTable
CREATE TABLE "inbound_updates" (
    "platform" "IdentityPlatform" NOT NULL,
    "update_id" TEXT NOT NULL,
    "received_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "inbound_updates_pkey" PRIMARY KEY ("platform","update_id")
);

-- CreateTable
CREATE TABLE "chat_actions" (
    "id" TEXT NOT NULL,
    "user_id" UUID NOT NULL,
    "command" TEXT NOT NULL,
    "args" JSONB NOT NULL,
    "expires_at" TIMESTAMPTZ(3) NOT NULL,
    "used_at" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "chat_actions_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "broadcasts" (
    "id" UUID NOT NULL,
    "text" TEXT NOT NULL,
    "created_by" TEXT NOT NULL,
    "status" TEXT NOT NULL DEFAULT 'queued',
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "broadcasts_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "exchange_credentials_key_version_idx" ON "exchange_credentials"("key_version");

-- CreateIndex
CREATE UNIQUE INDEX "exchange_credentials_user_id_exchange_label_key" ON "exchange_credentials"("user_id", "exchange", "label");

-- CreateIndex
CREATE UNIQUE INDEX "key_intake_tokens_token_hash_key" ON "key_intake_tokens"("token_hash");

-- CreateIndex
CREATE INDEX "key_intake_tokens_user_id_idx" ON "key_intake_tokens"("user_id");

-- CreateIndex
CREATE UNIQUE INDEX "link_codes_code_hash_key" ON "link_codes"("code_hash");

-- CreateIndex
CREATE INDEX "link_codes_user_id_idx" ON "link_codes"("user_id");

-- CreateIndex
CREATE INDEX "inbound_updates_received_at_idx" ON "inbound_updates"("received_at");

-- CreateIndex
CREATE INDEX "chat_actions_user_id_idx" ON "chat_actions"("user_id");

-- CreateIndex
CREATE INDEX "broadcasts_status_idx" ON "broadcasts"("status");

-- AddForeignKey
ALTER TABLE "exchange_credentials" ADD CONSTRAINT "exchange_credentials_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "key_intake_tokens" ADD CONSTRAINT "key_intake_tokens_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "link_codes" ADD CONSTRAINT "link_codes_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "alert_preferences" ADD CONSTRAINT "alert_preferences_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "chat_actions" ADD CONSTRAINT "chat_actions_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE;
