// GET /v1/scanner/recommendation, /v1/strategy/params and /v1/strategy/regimes: what a
// self-hosted bot trades, with this customer's staggered scan and jittered parameters.
import type { FastifyInstance } from 'fastify';
import { customerParams, recommendationFor, recommendationJson } from '../../../app/scanner.ts';
import { botRoute, sendError, type ApiV1Context } from './guard.ts';

/** Before the first scan: come back in a minute, or when the rate limit allows, whichever is later. */
const NO_SCAN_RETRY_S = 60;

export function registerScannerRoutes(server: FastifyInstance, ctx: ApiV1Context): void {
  server.get(
    '/v1/scanner/recommendation',
    botRoute(ctx, 'scanner_recommendation', async (_request, reply, { license, nextAllowedAt }) => {
      const rec = await recommendationFor(ctx.app, ctx.settings.policy, license);
      if (!rec.ok) {
        if (rec.error.code === 'no_scan_yet') {
          const untilAllowed = nextAllowedAt ? Math.ceil((nextAllowedAt.getTime() - ctx.app.clock.now().getTime()) / 1000) : 0;
          reply.header('retry-after', String(Math.max(NO_SCAN_RETRY_S, untilAllowed)));
        }
        return sendError(reply, rec.error);
      }
      return reply.send(recommendationJson(rec.value));
    }),
  );

  server.get(
    '/v1/strategy/params',
    botRoute(ctx, 'strategy_params', async (_request, reply, { license }) => {
      const { jitter, paramSet } = customerParams(license.customerId, ctx.settings.policy);
      return reply.send({ version: paramSet.version, params: paramSet.params, jitter: { tp: jitter.tp, dev: jitter.dev } });
    }),
  );

  server.get(
    '/v1/strategy/regimes',
    botRoute(ctx, 'strategy_regimes', async (_request, reply, { license }) => {
      const { paramSet } = customerParams(license.customerId, ctx.settings.policy);
      const { allocation_rules, sma_period, extreme_atr_mult, trend_threshold_pct, trend_slope_lookback } = paramSet.regimes;
      return reply.send({ version: paramSet.version, allocation_rules, sma_period, extreme_atr_mult, trend_threshold_pct, trend_slope_lookback });
    }),
  );
}
