import { describe, expect, it } from 'vitest';
import { renderForLimit, splitMessage, toDiscordMarkdown, toPlainText, toTelegramHtml } from '../../src/chat/render.ts';

describe('reply rendering', () => {
  it('renders bold and code, escaping everything else for Telegram HTML', () => {
    expect(toTelegramHtml('*Pool* `a<b>` & <script>*x*</script>')).toBe(
      '<b>Pool</b> <code>a&lt;b&gt;</code> &amp; &lt;script&gt;*x*&lt;/script&gt;',
    );
    expect(toTelegramHtml('`*not bold*`')).toBe('<code>*not bold*</code>');
    expect(toDiscordMarkdown('*Pool* `*x*`')).toBe('**Pool** `*x*`');
    expect(toPlainText('*Pool* `code`')).toBe('Pool code');
    // Stars inside words are literal: masked keys, arithmetic.
    expect(toTelegramHtml('License AIT-****-****-JCNZ on *pro*.')).toBe('License AIT-****-****-JCNZ on <b>pro</b>.');
    expect(toTelegramHtml('2*3*4 and * loose * stars')).toBe('2*3*4 and * loose * stars');
  });

  it('splits long replies on line boundaries within the limit', () => {
    const lines = Array.from({ length: 300 }, (_, i) => `line ${i} ${'x'.repeat(20)}`);
    const parts = splitMessage(lines, 4096);
    expect(parts.length).toBeGreaterThan(1);
    for (const part of parts) expect(part.length).toBeLessThanOrEqual(4096);
    expect(parts.join('\n')).toBe(lines.join('\n'));
    expect(splitMessage(['y'.repeat(9000)], 4096).map((p) => p.length)).toEqual([4096, 4096, 808]);
    expect(renderForLimit('', toTelegramHtml, 4096)).toEqual(['']);
  });
});
