// Renders the command layer's small markup (*bold*, `code`, lines) for each platform, and
// splits long replies on line boundaries to fit a platform's message limit.

const escapeHtml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** Applies `fn` to the parts outside `code` spans and `code` to the parts inside. */
function mapSpans(line: string, outside: (s: string) => string, code: (s: string) => string): string {
  return line
    .split(/(`[^`\n]*`)/g)
    .map((part) => (part.length >= 2 && part.startsWith('`') && part.endsWith('`') ? code(part.slice(1, -1)) : outside(part)))
    .join('');
}

/**
 * *bold* only where a person would mean it: opening after a space or line start, closing before
 * a space, punctuation or line end. Masked keys (AIT-****-****-7KQ2) and 2*3*4 stay literal.
 */
const BOLD = /(^|[\s(])\*([^*\s](?:[^*\n]*[^*\s])?)\*(?=$|[\s.,:;!?)])/g;

/** Telegram HTML parse mode: everything user-supplied is escaped, so nothing can inject markup. */
export function toTelegramHtml(text: string): string {
  return text
    .split('\n')
    .map((line) =>
      mapSpans(
        line,
        (s) => escapeHtml(s).replace(BOLD, '$1<b>$2</b>'),
        (s) => `<code>${escapeHtml(s)}</code>`,
      ),
    )
    .join('\n');
}

/** Discord markdown: bold is **double**; code stays in backticks. */
export function toDiscordMarkdown(text: string): string {
  return text
    .split('\n')
    .map((line) => mapSpans(line, (s) => s.replace(BOLD, '$1**$2**'), (s) => `\`${s}\``))
    .join('\n');
}

/** A terminal: markers dropped, bold as ANSI bold when colour is wanted. */
export function toPlainText(text: string, ansi = false): string {
  return text
    .split('\n')
    .map((line) => mapSpans(line, (s) => s.replace(BOLD, ansi ? '$1\x1b[1m$2\x1b[22m' : '$1$2'), (s) => s))
    .join('\n');
}

/**
 * Splits rendered lines into messages of at most `limit` characters, breaking between lines
 * (markup never spans lines, so every piece stays well-formed); a single overlong line is cut.
 */
export function splitMessage(renderedLines: readonly string[], limit: number): string[] {
  const messages: string[] = [];
  let current = '';
  for (const line of renderedLines.flatMap((l) => chop(l, limit))) {
    const next = current ? `${current}\n${line}` : line;
    if (next.length > limit) {
      messages.push(current);
      current = line;
    } else {
      current = next;
    }
  }
  if (current || messages.length === 0) messages.push(current);
  return messages;
}

function chop(line: string, limit: number): string[] {
  if (line.length <= limit) return [line];
  const parts: string[] = [];
  for (let i = 0; i < line.length; i += limit) parts.push(line.slice(i, i + limit));
  return parts;
}

/** Renders then splits, line by line, for a platform's limit. */
export function renderForLimit(text: string, render: (line: string) => string, limit: number): string[] {
  return splitMessage(text.split('\n').map(render), limit);
}
