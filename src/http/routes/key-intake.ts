// The one-time exchange-key form: keys are typed into this page, never into a chat.
// GET renders the form (without using the link up); POST stores the keys and confirms in chat.
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { CredentialDeps } from '../../app/credentials.ts';
import { KEY_INTAKE_PATH, peekKeyIntake, redeemKeyIntake, type KeyIntakeForm } from '../../app/key-intake.ts';
import type { ChatNotifier } from '../../chat/notifier.ts';

const escapeHtml = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');

/** Nothing on these pages may leak the link: no caching, no referrer, no framing, no scripts. */
function secureHeaders(reply: FastifyReply): FastifyReply {
  return reply
    .header('content-type', 'text/html; charset=utf-8')
    .header('cache-control', 'no-store')
    .header('referrer-policy', 'no-referrer')
    .header('x-frame-options', 'DENY')
    .header('x-content-type-options', 'nosniff')
    .header('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'");
}

function page(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${escapeHtml(title)}</title><style>body{font:16px system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem;color:#222}
label{display:block;margin:1rem 0 .3rem;font-weight:600}input{width:100%;padding:.5rem;font:inherit;box-sizing:border-box}
button{margin-top:1.5rem;padding:.6rem 1.2rem;font:inherit}.error{color:#b00020}.note{color:#555;font-size:.9rem}</style></head>
<body>${body}</body></html>`;
}

function formPage(form: KeyIntakeForm, action: string, error?: string): string {
  return page(
    `${form.exchangeName} API keys`,
    `<h1>${escapeHtml(form.exchangeName)} API keys</h1>
<p class="note">Give this key permission to trade only. Never enable withdrawals on a key you give a bot.</p>
${error ? `<p class="error" role="alert">${escapeHtml(error)}</p>` : ''}
<form method="post" action="${escapeHtml(action)}" autocomplete="off">
<label for="apiKey">API key</label><input id="apiKey" name="apiKey" required spellcheck="false">
<label for="apiSecret">API secret</label><input id="apiSecret" name="apiSecret" type="password" required spellcheck="false">
${form.needsPassphrase ? '<label for="passphrase">API passphrase</label><input id="passphrase" name="passphrase" type="password" required>' : ''}
<button type="submit">Save keys</button></form>
<p class="note">They are encrypted before they are stored. This link works once.</p>`,
  );
}

const goneHtml = page(
  'Link not valid',
  '<h1>This link is not valid</h1><p>It has expired or was already used. Ask the bot for a new one with <code>/keys add</code>.</p>',
);

export function registerKeyIntakeRoutes(server: FastifyInstance, deps: CredentialDeps, notifier: ChatNotifier): void {
  if (!server.hasContentTypeParser('application/x-www-form-urlencoded')) {
    server.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 16_384 }, (_req, body, done) => {
      done(null, Object.fromEntries(new URLSearchParams(body as string)));
    });
  }

  server.get<{ Params: { token: string } }>(`${KEY_INTAKE_PATH}/:token`, async (request, reply) => {
    const form = await peekKeyIntake(deps, request.params.token);
    if (!form.ok) return secureHeaders(reply.code(404)).send(goneHtml);
    return secureHeaders(reply).send(formPage(form.value, request.params.token));
  });

  server.post<{ Params: { token: string }; Body: Record<string, string> | undefined }>(`${KEY_INTAKE_PATH}/:token`, async (request, reply) => {
    const body = request.body ?? {};
    const result = await redeemKeyIntake(deps, {
      token: request.params.token,
      apiKey: String(body.apiKey ?? ''),
      apiSecret: String(body.apiSecret ?? ''),
      passphrase: body.passphrase ? String(body.passphrase) : null,
    });
    if (!result.ok) {
      if (result.error.code === 'intake_link_invalid') return secureHeaders(reply.code(404)).send(goneHtml);
      // Bad input does not use the link up: show the form again with what to fix.
      const form = await peekKeyIntake(deps, request.params.token);
      if (!form.ok) return secureHeaders(reply.code(404)).send(goneHtml);
      return secureHeaders(reply.code(400)).send(formPage(form.value, request.params.token, result.error.message));
    }
    const { credential, platform, chatId } = result.value;
    await notifier.notify(platform, chatId, `✅ ${credential.exchangeName} keys saved (key ending ${credential.apiKeyLast4}). See /keys list.`);
    return secureHeaders(reply).send(
      page('Keys saved', `<h1>Keys saved</h1><p>Your ${escapeHtml(credential.exchangeName)} keys are stored encrypted. You can close this page and go back to the chat.</p>`),
    );
  });
}
