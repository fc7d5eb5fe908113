import { customerIdOf } from '../src/app/customers.ts';
import { autoRotateOf, DEFAULT_SCANNER_POLICY, recommendationFor, setAutoRotate } from '../src/app/scanner.ts';
import { errorReply, minute } from './format.ts';
import { arg, defineCommand } from './types.ts';

const pct = (factor: number) => `${factor >= 1 ? '+' : ''}${((factor - 1) * 100).toFixed(1)}%`;
const range = ([lo, hi]: readonly [number, number]) => `${lo.toFixed(2)}–${hi.toFixed(2)}%`;

export default defineCommand({
  name: 'scanner',
  description: 'The coin scanner: the best coins for the DCA bot now, with your parameters; auto-rotation on or off',
  args: {
    setting: arg.choice('autorotate to change rotation', ['autorotate']).optional(),
    state: arg.choice('on or off', ['on', 'off']).optional(),
  },
  access: { kind: 'licensed' },
  where: 'any',
  help:
    'Every few hours the scanner backtests the DCA bot on each coin of its universe over recent candles and ranks them by a composite score (daily ROI, cycles per day, time in friendly regimes). ' +
    'When another coin beats one of your DCA runs\' coin by the rotation threshold you get a suggestion; with `/scanner autorotate on` the run moves by itself once its open deal has closed.',
  async handler({ setting, state }, ctx) {
    const app = ctx.services.app;
    const policy = ctx.services.scannerPolicy ?? DEFAULT_SCANNER_POLICY;
    const userId = ctx.user.userId;
    if (setting === 'autorotate') {
      if (!state) return { text: `Auto-rotation is *${(await autoRotateOf(app, userId)) ? 'on' : 'off'}*. Change it: \`/scanner autorotate on\` or \`off\`.` };
      await setAutoRotate(app, userId, state === 'on', { type: 'user', id: userId });
      return {
        text:
          state === 'on'
            ? `Auto-rotation *on*: when a coin scores ${policy.rotationThresholdPct}% better than a DCA run's coin, I stop the run once its deal has closed and restart it on the better coin with the same capital.`
            : 'Auto-rotation *off*: you get rotation suggestions and decide yourself.',
      };
    }
    const customerId = await customerIdOf(app, userId);
    const result = await recommendationFor(app, policy, { userId, customerId });
    if (!result.ok) return errorReply(result.error);
    const rec = result.value;
    const top = rec.rankings.slice(0, policy.topN);
    const lines = top.map(
      (r, i) =>
        `${i + 1}. *${r.symbol}* — score ${r.composite_score.toFixed(1)} · ROI ${r.daily_roi_pct.toFixed(3)}%/day · ${r.cycles_per_day.toFixed(1)} cycles/day · friendly ${r.friendly_regime_pct.toFixed(0)}%`,
    );
    const params = rec.paramSet.params;
    return {
      text: [
        `*Coin scanner* — scan of ${minute(rec.scan.takenAt)} (next ${minute(rec.scan.nextScanAt)})`,
        ...(rec.warning ? [`⚠ ${rec.warning}`] : []),
        ...(lines.length > 0 ? lines : ['No coin is worth running the DCA bot on right now (every backtest lost money).']),
        '',
        `Your DCA parameters: TP ${range(params.tp_range)} (${pct(rec.jitter.tp)}), deviation ${range(params.deviation_range)} (${pct(rec.jitter.dev)}) — varied per customer so our orders do not crowd the same levels.`,
        `Rotation: a DCA run should move when another coin scores ${rec.rotationThresholdPct}% better. Auto-rotation is ${(await autoRotateOf(app, userId)) ? 'on' : 'off'} (\`/scanner autorotate on|off\`).`,
      ].join('\n'),
    };
  },
});
