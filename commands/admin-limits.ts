import { guardLimits, riskDefaults, setLimits, type LimitsTarget } from '../src/app/run-risk.ts';
import { RISK_PARAM_KEYS } from '../src/engine/risk/risk-overrides.ts';
import { findTier } from '../src/app/tiers.ts';
import { findUserId } from '../src/app/user-directory.ts';
import { errorReply, TRADING_OFF } from './format.ts';
import { arg, defineCommand } from './types.ts';

export default defineCommand({
  name: 'admin limits',
  description: "Show or set a tier's or a user's guard limits (and a user's run risk defaults)",
  args: {
    target: arg.text('tier:<id> or a user (id, platform id or @username)'),
    limits: arg.text('JSON like {"guard":{"maxRunLossUsd":100}} or {"risk":{"capital_reserve_pct":20}}, or "clear"', { rest: true }).optional(),
  },
  access: { kind: 'admin' },
  where: 'any',
  help: `guard keys: maxRunLossUsd, maxGlobalDrawdownUsd, maxDailyLossUsd, maxApiErrorsPerMin, staleTickerMs, blackSwanMovePct. A user's limits beat their tier's, which beat the environment. risk (users only: defaults for new runs, under the run's own key=value): ${RISK_PARAM_KEYS.join(', ')}. A section given replaces that section ({"risk":null} removes it); "clear" removes all.`,
  async handler({ target, limits }, ctx) {
    const trading = ctx.services.trading;
    if (!trading) return TRADING_OFF;
    let ref: LimitsTarget;
    if (target.toLowerCase().startsWith('tier:')) {
      const tier = await findTier(ctx.services.app.db, target.slice(5));
      if (!tier) return { text: `There is no tier "${target.slice(5)}". See /tiers.`, outcome: 'tier_not_found' };
      ref = { kind: 'tier', tierId: tier.id };
    } else {
      const userId = await findUserId(ctx.services.app, target);
      if (!userId) return { text: 'No user matches that. Use tier:<id>, a user id, a platform id or @username.', outcome: 'user_not_found' };
      ref = { kind: 'user', userId };
    }
    if (limits !== undefined) {
      let value: unknown = null;
      if (limits.trim().toLowerCase() !== 'clear') {
        try {
          value = JSON.parse(limits);
        } catch {
          return { text: 'That is not valid JSON. Example: `{"guard":{"maxRunLossUsd":100}}`', outcome: 'invalid_input' };
        }
      }
      const stored = await setLimits(ctx.services.app, ref, value, { type: 'admin', id: ctx.user.userId });
      if (!stored.ok) return errorReply(stored.error);
    }
    const shown = ref.kind === 'user' ? await guardLimits(ctx.services.app, trading.guardDefaults, ref.userId) : null;
    const risk = ref.kind === 'user' ? await riskDefaults(ctx.services.app, ref.userId) : {};
    return {
      text: [
        limits === undefined ? '' : `Limits ${limits.trim().toLowerCase() === 'clear' ? 'cleared' : 'saved'} for ${target}.`,
        shown ? `Effective guard limits: \`${JSON.stringify(shown)}\`` : 'Users of this tier get these unless their own limits say otherwise.',
        Object.keys(risk).length ? `Run risk defaults: \`${JSON.stringify(risk)}\`` : '',
      ]
        .filter(Boolean)
        .join('\n'),
    };
  },
});
