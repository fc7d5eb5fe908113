// The REST API v1 as OpenAPI 3.1, written by hand next to the routes it describes and served at
// GET /v1/openapi.json. test/integration/api-v1-openapi.test.ts fails when a /v1 route and this
// document disagree, in either direction.
import { API_RATE_LIMITS, type ApiLimitGroup } from '../app/api-rate-limit.ts';
import { MAX_OPEN_POSITIONS } from '../app/bot-reports.ts';

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: object, description: string) => ({ description, content: { 'application/json': { schema } } });
const error = (description: string, codes: readonly string[]) =>
  json({ allOf: [ref('Error'), { properties: { error: { enum: codes } } }] }, description);

const bearerFailures = {
  '401': {
    ...error('No key (`unauthorized`), a malformed key (`invalid_license_format`) or an unknown one (`license_not_found`).', [
      'unauthorized',
      'invalid_license_format',
      'license_not_found',
    ]),
    headers: { 'WWW-Authenticate': { schema: { type: 'string' }, description: '`Bearer`' } },
  },
};
const forbidden = (extra: readonly string[] = []) =>
  error('The license is revoked, or not yet activated on a machine (POST /auth/activate).', ['license_revoked', 'machine_not_activated', ...extra]);
const badRequest = json(ref('BadRequest'), 'The request is not valid: every problem with its field.');
const limited = (group: ApiLimitGroup) => ({
  '429': {
    ...json(ref('RateLimited'), `Rate limit: ${API_RATE_LIMITS[group].label} per license.`),
    headers: { 'Retry-After': { schema: { type: 'integer', minimum: 1 }, description: 'Seconds until the next request is accepted.' } },
  },
});
const decimal = (description: string) => ({
  oneOf: [{ type: 'number' }, { type: 'string', pattern: '^-?\\d+(\\.\\d+)?$' }],
  description: `${description} A JSON number or a decimal string; stored as an exact decimal.`,
});
const symbol = {
  type: 'string',
  description: '`BTC/USDT` or `BTCUSDT` (stored as BASE/QUOTE). Without a slash the quote must be one of USDT, USDC, FDUSD, BUSD, TUSD, DAI, USD, EUR, BTC, ETH, BNB.',
  examples: ['HYPE/USDT', 'HYPEUSDT'],
};
const timestamp = (description: string) => ({
  type: 'string',
  format: 'date-time',
  description: `${description} ISO 8601 with a zone; at most 5 minutes ahead of the server clock.`,
});
const money = { type: 'string', pattern: '^-?\\d+\\.\\d{2}$', examples: ['1234.50'] };
const customerIdParameter = {
  name: 'customer_id',
  in: 'path',
  required: true,
  description: "Your customer id (from POST /auth/activate). Another customer's id is refused (403), an unknown one is 404.",
  schema: { type: 'string', pattern: '^c_[A-Za-z0-9_-]{22}$' },
};

export const OPENAPI_V1 = {
  openapi: '3.1.0',
  info: {
    title: 'AIT central server API',
    version: '1.0.0',
    description:
      'For self-hosted AIT bots: licensing, scanner, strategy parameters, data ingestion and updates. ' +
      'Authenticate with `Authorization: Bearer <license key>` after activating the license on your machine (POST /auth/activate). ' +
      'Operator endpoints under /admin take the service’s ADMIN_API_TOKEN as the bearer instead. ' +
      'Expected failures answer `{ "error": "<identifier>", "message": "<text for people>" }`.',
  },
  servers: [{ url: '/v1' }],
  security: [{ licenseKey: [] }],
  paths: {
    '/auth/activate': {
      post: {
        operationId: 'activate',
        summary: 'Activate a license on this machine (first start)',
        description:
          'Binds the license to `machine_id`. A license nobody owns yet gets a new account. Repeating it from the same machine is harmless; ' +
          'another machine gets 403 `license_already_bound` (support can release the license). The key is sent in the body, so no bearer token is needed.',
        security: [],
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: {
                type: 'object',
                additionalProperties: false,
                required: ['license_key', 'machine_id'],
                properties: {
                  license_key: { type: 'string', examples: ['AIT-XXXX-XXXX-XXXX'] },
                  machine_id: { type: 'string', pattern: '^[A-Za-z0-9._:-]{8,128}$', description: 'A stable hash of the machine’s hardware identifiers.' },
                },
              },
            },
          },
        },
        responses: {
          '200': json(ref('Activation'), 'Activated (or already activated on this machine).'),
          '400': badRequest,
          '403': error('`license_already_bound`: the license runs on another machine (message: "Contact support to transfer license"); `license_revoked`.', [
            'license_already_bound',
            'license_revoked',
          ]),
          '404': error('No license has this key.', ['license_not_found']),
        },
      },
    },
    '/auth/heartbeat': {
      get: {
        operationId: 'heartbeat',
        summary: 'Periodic license check',
        description: 'A revoked license is answered with `valid: false` (not refused), so the bot learns it and stops.',
        responses: {
          '200': json(ref('Heartbeat'), 'The license state and the newest bot version.'),
          ...bearerFailures,
          '403': error('The license is not yet activated on a machine.', ['machine_not_activated']),
          ...limited('heartbeat'),
        },
      },
    },
    '/scanner/recommendation': {
      get: {
        operationId: 'scannerRecommendation',
        summary: 'Current coin rankings',
        description:
          'The newest scan released to you (each customer gets a new scan at a stable offset). While the capacity pool is over its cap, only the top 3 coins are shown (`degraded`); further over it, 403 `pool_over_cap`.',
        responses: {
          '200': json(ref('Recommendation'), 'Rankings, best first.'),
          ...bearerFailures,
          '403': { ...forbidden(['no_license', 'pool_over_cap']), description: 'Revoked, not activated, or scanner access paused (`pool_over_cap`, with the `pool` meter).' },
          ...limited('scanner_recommendation'),
          '503': {
            ...error('No scan has finished yet.', ['no_scan_yet']),
            headers: { 'Retry-After': { schema: { type: 'integer' }, description: 'Seconds to wait.' } },
          },
        },
      },
    },
    '/strategy/params': {
      get: {
        operationId: 'strategyParams',
        summary: 'Strategy parameters for this customer',
        description: 'The current parameter set with your stable TP/deviation jitter applied (`jitter` holds the factors).',
        responses: { '200': json(ref('StrategyParams'), 'Your parameters.'), ...bearerFailures, '403': forbidden(), ...limited('strategy_params') },
      },
    },
    '/strategy/regimes': {
      get: {
        operationId: 'strategyRegimes',
        summary: 'Regime allocation rules',
        responses: { '200': json(ref('Regimes'), 'Allocation per regime and how regimes are detected.'), ...bearerFailures, '403': forbidden(), ...limited('strategy_regimes') },
      },
    },
    '/data/{customer_id}/status': {
      post: {
        operationId: 'pushStatus',
        summary: 'Push bot status (equity, open positions)',
        parameters: [customerIdParameter],
        requestBody: { required: true, content: { 'application/json': { schema: ref('StatusReport') } } },
        responses: {
          '201': json({ type: 'object', required: ['received_at'], properties: { received_at: { type: 'string', format: 'date-time' } } }, 'Stored.'),
          '400': badRequest,
          ...bearerFailures,
          '403': forbidden(['not_your_customer_id']),
          '404': error('No customer has this id.', ['customer_not_found']),
          ...limited('status_push'),
        },
      },
    },
    '/data/{customer_id}/trade': {
      post: {
        operationId: 'pushTrade',
        summary: 'Push a completed trade',
        description: 'Idempotent on `trade_id`: pushing the same trade again answers 200 with `duplicate: true` and stores nothing.',
        parameters: [customerIdParameter],
        requestBody: { required: true, content: { 'application/json': { schema: ref('TradeReport') } } },
        responses: {
          '201': json(ref('TradeStored'), 'Stored (`duplicate: false`).'),
          '200': json(ref('TradeStored'), 'Already stored earlier (`duplicate: true`); nothing changed.'),
          '400': badRequest,
          ...bearerFailures,
          '403': forbidden(['not_your_customer_id']),
          '404': error('No customer has this id.', ['customer_not_found']),
          ...limited('trade_push'),
        },
      },
    },
    '/updates/check': {
      get: {
        operationId: 'checkUpdate',
        summary: 'Is a newer bot version out?',
        parameters: [{ name: 'current', in: 'query', required: true, description: 'The running version.', schema: { type: 'string', examples: ['2.4.1'] } }],
        responses: { '200': json(ref('UpdateCheck'), 'The newest stable release.'), '400': badRequest, ...bearerFailures, '403': forbidden() },
      },
    },
    '/updates/download/{version}': {
      get: {
        operationId: 'downloadUpdate',
        summary: 'Download a bot package',
        parameters: [{ name: 'version', in: 'path', required: true, schema: { type: 'string', examples: ['2.4.1'] }, description: 'A semver version, e.g. 2.4.1 or 2.5.0-rc.1.' }],
        responses: {
          '200': {
            description: '`ait-bot-<version>.tar.gz`.',
            headers: {
              'Content-Disposition': { schema: { type: 'string' } },
              'X-Checksum-SHA256': { schema: { type: 'string', pattern: '^[0-9a-f]{64}$' }, description: 'Verify before installing.' },
            },
            content: { 'application/gzip': { schema: { type: 'string', contentMediaType: 'application/gzip' } } },
          },
          ...bearerFailures,
          '403': forbidden(),
          '404': error('There is no package with this version.', ['release_not_found']),
        },
      },
    },
    '/license/upgrade': {
      post: {
        operationId: 'upgradeLicense',
        summary: 'Upgrade to a higher tier (Stripe Checkout)',
        description: 'Reserves the capital difference and opens a checkout for the price difference; the license is upgraded once the payment clears.',
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: { type: 'object', additionalProperties: false, required: ['tier'], properties: { tier: { type: 'string', examples: ['pro'] } } },
            },
          },
        },
        responses: {
          '200': json(ref('UpgradeCheckout'), 'Pay at `checkout_url` before `expires_at`.'),
          '400': error('Bad body or no such tier.', ['bad_request', 'tier_not_found']),
          ...bearerFailures,
          '403': forbidden(['account_under_review']),
          '409': error('Not a higher tier, the pool has no room for it (`pool`), or the account has another license at this tier or higher.', [
            'tier_not_higher',
            'pool_full',
            'license_not_upgradable',
          ]),
          ...limited('license_upgrade'),
          '503': error('Payments are not set up here, or the payment provider is unreachable.', ['payments_off', 'payment_unavailable']),
        },
      },
    },
    '/pool/status': {
      get: {
        operationId: 'poolStatus',
        summary: 'The public capacity meter',
        security: [],
        responses: { '200': json(ref('PoolStatus'), 'Capital committed, held and available, and which tiers can still be bought.') },
      },
    },
    '/admin/revenue': {
      get: {
        operationId: 'adminRevenue',
        summary: 'Revenue report (operators)',
        description:
          'The three revenue streams, their total, MRR and ARR, and what is owed to copy-trading masters. Exact decimal strings with 2 places. ' +
          'Served only when ADMIN_API_TOKEN is set; authenticate with `Authorization: Bearer <ADMIN_API_TOKEN>`. Each read is audited.',
        security: [{ adminToken: [] }],
        responses: {
          '200': json(ref('Revenue'), 'The report as of now.'),
          '401': {
            ...error('No admin token, or the wrong one.', ['unauthorized']),
            headers: { 'WWW-Authenticate': { schema: { type: 'string' }, description: '`Bearer`' } },
          },
        },
      },
    },
    '/openapi.json': {
      get: {
        operationId: 'openapi',
        summary: 'This document',
        security: [],
        responses: { '200': { description: 'OpenAPI 3.1.', content: { 'application/json': { schema: { type: 'object' } } } } },
      },
    },
  },
  components: {
    securitySchemes: {
      licenseKey: { type: 'http', scheme: 'bearer', description: 'Your license key, AIT-XXXX-XXXX-XXXX.' },
      adminToken: { type: 'http', scheme: 'bearer', description: "The service's ADMIN_API_TOKEN (operator endpoints under /admin)." },
    },
    schemas: {
      Error: {
        type: 'object',
        required: ['error', 'message'],
        properties: { error: { type: 'string', description: 'A stable identifier.' }, message: { type: 'string', description: 'For people.' } },
      },
      BadRequest: {
        type: 'object',
        required: ['error', 'message', 'problems'],
        properties: {
          error: { const: 'bad_request' },
          message: { type: 'string' },
          problems: {
            type: 'array',
            items: {
              type: 'object',
              required: ['field', 'message'],
              properties: { field: { type: 'string', examples: ['open_positions.0.qty'] }, message: { type: 'string', examples: ['must not be negative'] } },
            },
          },
        },
      },
      RateLimited: {
        type: 'object',
        required: ['error', 'message', 'retry_after_s'],
        properties: { error: { const: 'rate_limited' }, message: { type: 'string' }, retry_after_s: { type: 'integer', minimum: 1 } },
      },
      Activation: {
        type: 'object',
        required: ['customer_id', 'tier', 'activated_at', 'dashboard_url'],
        properties: {
          customer_id: { type: 'string', examples: ['c_3q2Xb0kS8xXcVt1d5mYz9Q'] },
          tier: { type: 'string', examples: ['pro'] },
          activated_at: { type: 'string', format: 'date-time', description: 'When the license was activated on this machine.' },
          dashboard_url: { type: 'string', format: 'uri' },
        },
      },
      Heartbeat: {
        type: 'object',
        required: ['valid', 'tier', 'bot_version_latest', 'message'],
        properties: {
          valid: { type: 'boolean' },
          tier: { type: 'string' },
          bot_version_latest: { type: 'string', examples: ['2.4.1'] },
          message: { type: ['string', 'null'], description: 'Why the license is not valid; null when it is.' },
        },
      },
      Recommendation: {
        type: 'object',
        required: ['timestamp', 'rankings', 'rotation_threshold_pct', 'next_scan', 'degraded', 'warning'],
        properties: {
          timestamp: { type: 'string', format: 'date-time', description: 'When the scan was taken.' },
          rankings: {
            type: 'array',
            items: {
              type: 'object',
              required: ['symbol', 'pair', 'composite_score', 'daily_roi_pct', 'cycles_per_day', 'friendly_regime_pct'],
              properties: {
                symbol: { type: 'string', examples: ['HYPEUSDT'] },
                pair: { type: 'string', examples: ['HYPE/USDT'] },
                composite_score: { type: 'number' },
                daily_roi_pct: { type: 'number' },
                cycles_per_day: { type: 'number' },
                friendly_regime_pct: { type: 'number' },
              },
            },
          },
          rotation_threshold_pct: { type: 'number' },
          next_scan: { type: 'string', format: 'date-time' },
          degraded: { type: 'boolean', description: 'True while the pool is over its cap: only the top 3 coins are listed.' },
          warning: { type: ['string', 'null'] },
        },
      },
      StrategyParams: {
        type: 'object',
        required: ['version', 'params', 'jitter'],
        properties: {
          version: { type: 'string' },
          params: {
            type: 'object',
            description: 'base_order_pct, max_safety_orders, so_volume_mult, timeframe, tp_range, deviation_range, atr_period, atr_baseline_pct, regime_multipliers, capital_reserve_pct.',
          },
          jitter: {
            type: 'object',
            required: ['tp', 'dev'],
            properties: { tp: { type: 'number' }, dev: { type: 'number' } },
            description: 'The factors applied to tp_range and deviation_range for this customer.',
          },
        },
      },
      Regimes: {
        type: 'object',
        required: ['version', 'allocation_rules', 'sma_period'],
        properties: {
          version: { type: 'string' },
          allocation_rules: { type: 'object', description: '[long %, reserve %] per regime; TRENDING has bullish and bearish.' },
          sma_period: { type: 'integer' },
          extreme_atr_mult: { type: 'number', description: 'EXTREME when ATR% >= this × params.atr_baseline_pct.' },
          trend_threshold_pct: { type: 'number', description: 'TRENDING when the close is more than this % from the SMA.' },
          trend_slope_lookback: { type: 'integer' },
        },
      },
      StatusReport: {
        type: 'object',
        additionalProperties: false,
        required: ['bot_version', 'equity_usd', 'open_positions'],
        properties: {
          bot_version: { type: 'string', examples: ['2.4.1'] },
          equity_usd: decimal('Account equity in USD.'),
          timestamp: timestamp('When the bot made the report.'),
          uptime_s: { type: 'integer', minimum: 0 },
          open_positions: {
            type: 'array',
            maxItems: MAX_OPEN_POSITIONS,
            items: {
              type: 'object',
              additionalProperties: false,
              required: ['symbol', 'qty', 'avg_price', 'capital_usd'],
              properties: {
                symbol,
                qty: decimal('Position size in the base asset; negative for a short.'),
                avg_price: decimal('Average entry price.'),
                capital_usd: decimal('Capital in the position, USD.'),
              },
            },
          },
          active_deals: { type: 'integer', minimum: 0 },
        },
      },
      TradeReport: {
        type: 'object',
        additionalProperties: false,
        required: ['trade_id', 'symbol', 'side', 'price', 'qty', 'executed_at'],
        properties: {
          trade_id: { type: 'string', pattern: '^[\\x21-\\x7e]{1,128}$', description: "The bot's own id of the trade." },
          symbol,
          side: { enum: ['buy', 'sell'] },
          price: decimal('Fill price, > 0.'),
          qty: decimal('Quantity in the base asset, > 0.'),
          fee: decimal('Fee in the quote currency (negative for a rebate); default 0.'),
          realized_pnl_usd: decimal('Realized P&L of the trade in USD, when it closed (part of) a position.'),
          executed_at: timestamp('When the trade executed.'),
        },
      },
      TradeStored: {
        type: 'object',
        required: ['trade_id', 'duplicate'],
        properties: { trade_id: { type: 'string' }, duplicate: { type: 'boolean' } },
      },
      UpdateCheck: {
        type: 'object',
        required: ['latest', 'update_available', 'download_url', 'sha256', 'size'],
        properties: {
          latest: { type: ['string', 'null'], description: 'The newest stable version; null when none is published.' },
          update_available: { type: 'boolean' },
          download_url: { type: ['string', 'null'], format: 'uri' },
          sha256: { type: ['string', 'null'] },
          size: { type: ['integer', 'null'], description: 'Bytes.' },
        },
      },
      UpgradeCheckout: {
        type: 'object',
        required: ['checkout_url', 'tier', 'price_usd', 'expires_at'],
        properties: {
          checkout_url: { type: 'string', format: 'uri' },
          tier: { type: 'string' },
          price_usd: { type: 'number', description: 'The price difference to pay.' },
          expires_at: { type: 'string', format: 'date-time', description: 'The reservation and the checkout lapse then.' },
        },
      },
      Revenue: {
        type: 'object',
        required: ['total_revenue', 'mrr', 'arr', 'revenue_by_type', 'master_payouts', 'as_of', 'definitions'],
        properties: {
          total_revenue: { ...money, description: 'subscription + performance_fee + copy_trading_fee.' },
          mrr: { ...money, description: "Fee revenue (performance + the platform's copy-trading share) accrued over the trailing 30 days." },
          arr: { ...money, description: '12 × mrr.' },
          revenue_by_type: {
            type: 'object',
            required: ['subscription', 'performance_fee', 'copy_trading_fee'],
            properties: {
              subscription: { ...money, description: 'Lifetime license sales net of refunds (one-off, not recurring).' },
              performance_fee: { ...money, description: 'Performance fees accrued: a share of live realised profit above each user’s high-water mark.' },
              copy_trading_fee: { ...money, description: "The platform's share of copy-trading fees accrued." },
            },
          },
          master_payouts: { ...money, description: "The masters' share of copy-trading fees: owed to masters, not revenue, not in the total." },
          as_of: { type: 'string', format: 'date-time' },
          definitions: { type: 'object', additionalProperties: { type: 'string' }, description: 'What each figure means, in words.' },
        },
      },
      PoolStatus: {
        type: 'object',
        required: ['cap_usd', 'committed_usd', 'held_usd', 'available_usd', 'percent_used', 'enforcement', 'tiers'],
        properties: {
          cap_usd: { type: 'number' },
          committed_usd: { type: 'number' },
          held_usd: { type: 'number' },
          available_usd: { type: 'number' },
          percent_used: { type: 'number' },
          enforcement: { enum: ['normal', 'soft', 'hard'] },
          tiers: {
            type: 'array',
            items: {
              type: 'object',
              properties: { id: { type: 'string' }, name: { type: 'string' }, max_capital_usd: { type: 'number' }, price_usd: { type: 'number' }, available: { type: 'boolean' } },
            },
          },
        },
      },
    },
  },
} as const;

/** The document as served: with this server's address. */
export const openApiV1For = (publicBaseUrl: string) => ({ ...OPENAPI_V1, servers: [{ url: `${publicBaseUrl}/v1` }] });
