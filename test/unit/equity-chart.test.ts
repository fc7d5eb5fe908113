// The equity chart renders to a real PNG on the server, deterministically, with or without data.
import { inflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { chartFont, chartOption, renderEquityChart } from '../../src/reports/equity-chart.ts';

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

interface Png {
  readonly width: number;
  readonly height: number;
  readonly bitDepth: number;
  readonly colorType: number;
  readonly chunks: string[];
  readonly idat: Buffer;
}

/** Walks the chunks: signature, IHDR first, IEND last. */
function parsePng(bytes: Uint8Array): Png {
  const buf = Buffer.from(bytes);
  expect([...buf.subarray(0, 8)]).toEqual(PNG_SIGNATURE);
  const chunks: string[] = [];
  const idat: Buffer[] = [];
  let offset = 8;
  let ihdr: Buffer | undefined;
  while (offset < buf.length) {
    const length = buf.readUInt32BE(offset);
    const type = buf.toString('latin1', offset + 4, offset + 8);
    const data = buf.subarray(offset + 8, offset + 8 + length);
    chunks.push(type);
    if (type === 'IHDR') ihdr = data;
    if (type === 'IDAT') idat.push(data);
    offset += 12 + length;
  }
  expect(offset).toBe(buf.length);
  expect(chunks[0]).toBe('IHDR');
  expect(chunks.at(-1)).toBe('IEND');
  return {
    width: ihdr!.readUInt32BE(0),
    height: ihdr!.readUInt32BE(4),
    bitDepth: ihdr![8]!,
    colorType: ihdr![9]!,
    chunks,
    idat: Buffer.concat(idat),
  };
}

/** Distinct RGBA pixel values (8-bit RGBA PNG, unfiltered scanline bytes are good enough to count colours roughly). */
function distinctPixels(png: Png): number {
  const raw = inflateSync(png.idat);
  // Each scanline: one filter byte, then width × 4 bytes. Reconstruct filters to read real pixels.
  const stride = png.width * 4;
  const out = Buffer.alloc(png.height * stride);
  for (let y = 0; y < png.height; y++) {
    const filter = raw[y * (stride + 1)]!;
    for (let x = 0; x < stride; x++) {
      const cur = raw[y * (stride + 1) + 1 + x]!;
      const a = x >= 4 ? out[y * stride + x - 4]! : 0;
      const b = y > 0 ? out[(y - 1) * stride + x]! : 0;
      const c = x >= 4 && y > 0 ? out[(y - 1) * stride + x - 4]! : 0;
      let value: number;
      if (filter === 0) value = cur;
      else if (filter === 1) value = cur + a;
      else if (filter === 2) value = cur + b;
      else if (filter === 3) value = cur + Math.floor((a + b) / 2);
      else {
        const p = a + b - c;
        const pa = Math.abs(p - a);
        const pb = Math.abs(p - b);
        const pc = Math.abs(p - c);
        value = cur + (pa <= pb && pa <= pc ? a : pb <= pc ? b : c);
      }
      out[y * stride + x] = value & 0xff;
    }
  }
  const colours = new Set<number>();
  for (let i = 0; i < out.length; i += 4) colours.add(out.readUInt32BE(i));
  return colours.size;
}

const hour = 3_600_000;
const t0 = Date.UTC(2026, 2, 1, 0, 0, 0);
const curve = (start: number, steps: number[]) => steps.map((v, i) => [t0 + i * hour, start + v] as const);

describe('renderEquityChart', () => {
  it('renders a PNG of the requested size with the curve drawn', async () => {
    const png = await renderEquityChart({
      title: 'Equity — last 7 days',
      series: [{ name: 'paper', points: curve(1000, [0, 12, -5, 30, 18, 42]) }],
      width: 640,
      height: 320,
    });
    const parsed = parsePng(png);
    expect(parsed.width).toBe(640);
    expect(parsed.height).toBe(320);
    expect(parsed.bitDepth).toBe(8);
    expect(parsed.colorType).toBe(6); // RGBA
    expect(png.byteLength).toBeGreaterThan(5_000);
    expect(png.byteLength).toBeLessThan(500_000);
    // A white background, grey axes, text (anti-aliased) and a blue line: many colours, not a blank image.
    expect(distinctPixels(parsed)).toBeGreaterThan(50);
  });

  it('defaults to 800×400 and is deterministic', async () => {
    const input = { title: 'Equity', series: [{ name: 'live', points: curve(5000, [0, -100, 50]) }] };
    const a = await renderEquityChart(input);
    const b = await renderEquityChart(input);
    expect(parsePng(a)).toMatchObject({ width: 800, height: 400 });
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);
  });

  it('an empty series, no series and bad values still render', async () => {
    for (const series of [[], [{ name: 'paper', points: [] }], [{ name: 'paper', points: [[t0, Number.NaN], [Number.POSITIVE_INFINITY, 3]] as const }]]) {
      const png = await renderEquityChart({ title: 'Nothing yet', series, width: 300, height: 200 });
      expect(parsePng(png)).toMatchObject({ width: 300, height: 200 });
      expect(png.byteLength).toBeGreaterThan(500);
    }
  });

  it('clamps absurd sizes', async () => {
    const png = await renderEquityChart({ title: 'x', series: [], width: 10, height: 99_999 });
    expect(parsePng(png)).toMatchObject({ width: 200, height: 2000 });
  });

  it('two series (paper and live) get an axis each; points are sorted and cleaned', () => {
    const option = chartOption(
      {
        title: 'Equity',
        series: [
          { name: 'paper', points: [[t0 + hour, 1010], [t0, 1000], [t0 + 2 * hour, Number.NaN]] },
          { name: 'live', points: curve(5000, [0, 10]) },
        ],
      },
      'DejaVu Sans',
    );
    expect(option.yAxis).toHaveLength(2);
    expect(option.series.map((s) => s.yAxisIndex)).toEqual([0, 1]);
    expect(option.series[0]!.data).toEqual([[t0, 1000], [t0 + hour, 1010]]);
    expect(option.animation).toBe(false);
    expect(option.legend.show).toBe(true);
    expect(option.graphic).toEqual([]);
  });

  it('uses an installed font file when the machine has one', () => {
    const font = chartFont();
    if (font.resvg.loadSystemFonts === false) {
      expect(font.resvg.fontFiles).toHaveLength(1);
      expect(font.resvg.defaultFontFamily).toBe(font.family);
    } else {
      expect(font.family).toBe('sans-serif');
    }
  });
});
