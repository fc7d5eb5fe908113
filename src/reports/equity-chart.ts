// Equity curves as PNG images, rendered on the server without a browser: echarts draws the chart
// as an SVG string (server-side rendering, no DOM), resvg turns the SVG into a PNG.
//
// Text needs a font file: resvg does not fall back to anything on its own. We look for one of a
// few common sans-serif fonts (DejaVu Sans ships with Debian and most Linux images, including the
// CI machines) and load only that file, which is fast and makes the output the same everywhere
// the font is. Without any of them we let resvg scan the system fonts; on a machine with no fonts
// at all the lines still render and the text is left out. Rendering never depends on the network.
//
// Times are drawn as UTC wall-clock: to show a user's local time, shift the points by their
// offset first. Both libraries are loaded on the first render, not at start-up.
import { existsSync } from 'node:fs';
import type { ResvgRenderOptions } from '@resvg/resvg-js';

export interface EquitySeries {
  readonly name: string;
  /** [time in ms, value] */
  readonly points: readonly (readonly [number, number])[];
}

export interface EquityChartInput {
  readonly title: string;
  readonly series: readonly EquitySeries[];
  readonly width?: number;
  readonly height?: number;
}

const DEFAULT_WIDTH = 800;
const DEFAULT_HEIGHT = 400;
const COLORS = ['#2f6fde', '#d9822b', '#2e9e5b', '#b03a48'];

/** Fonts tried in order: [file, family name inside it]. */
const FONT_CANDIDATES: readonly (readonly [string, string])[] = [
  ['/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf', 'DejaVu Sans'],
  ['/usr/share/fonts/dejavu/DejaVuSans.ttf', 'DejaVu Sans'],
  ['/usr/share/fonts/TTF/DejaVuSans.ttf', 'DejaVu Sans'],
  ['/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf', 'Liberation Sans'],
  ['/usr/share/fonts/liberation-sans/LiberationSans-Regular.ttf', 'Liberation Sans'],
  ['/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf', 'Noto Sans'],
  ['/usr/share/fonts/noto/NotoSans-Regular.ttf', 'Noto Sans'],
  ['/System/Library/Fonts/Supplemental/Arial.ttf', 'Arial'],
  ['C:\\Windows\\Fonts\\arial.ttf', 'Arial'],
];

interface FontChoice {
  readonly family: string;
  readonly resvg: NonNullable<ResvgRenderOptions['font']>;
}

let fontChoice: FontChoice | undefined;

/** The font text is set in (looked up once per process). */
export function chartFont(): FontChoice {
  if (!fontChoice) {
    const found = FONT_CANDIDATES.find(([file]) => existsSync(file));
    fontChoice = found
      ? {
          family: found[1],
          resvg: { loadSystemFonts: false, fontFiles: [found[0]], defaultFontFamily: found[1], sansSerifFamily: found[1] },
        }
      : { family: 'sans-serif', resvg: { loadSystemFonts: true } };
  }
  return fontChoice;
}

type Libraries = {
  readonly echarts: typeof import('echarts/core');
  readonly Resvg: typeof import('@resvg/resvg-js').Resvg;
};

let libraries: Promise<Libraries> | undefined;

function load(): Promise<Libraries> {
  libraries ??= (async () => {
    const [echarts, charts, components, renderers, resvg] = await Promise.all([
      import('echarts/core'),
      import('echarts/charts'),
      import('echarts/components'),
      import('echarts/renderers'),
      import('@resvg/resvg-js'),
    ]);
    echarts.use([charts.LineChart, components.GridComponent, components.TitleComponent, components.LegendComponent, components.GraphicComponent, renderers.SVGRenderer]);
    return { echarts, Resvg: resvg.Resvg };
  })();
  libraries.catch(() => (libraries = undefined));
  return libraries;
}

const clampSize = (value: number | undefined, fallback: number) =>
  Number.isFinite(value) ? Math.min(2000, Math.max(200, Math.round(value!))) : fallback;

const money = (v: number) => v.toLocaleString('en-US', { maximumFractionDigits: 2 });

/** The echarts option (exported for tests): no animation, so the output is the same every time. */
export function chartOption(input: EquityChartInput, fontFamily: string) {
  const series = input.series.map((s) => ({
    name: s.name,
    points: s.points.filter(([t, v]) => Number.isFinite(t) && Number.isFinite(v)).toSorted((a, b) => a[0] - b[0]),
  }));
  const empty = series.every((s) => s.points.length === 0);
  // Two series (paper and live) of different sizes each get their own scale.
  const dual = series.length === 2;
  const axis = (i: number) => ({
    type: 'value' as const,
    scale: true,
    position: i === 0 ? ('left' as const) : ('right' as const),
    ...(dual ? { name: series[i]!.name, nameTextStyle: { color: COLORS[i]! } } : {}),
    splitLine: { show: i === 0 },
    axisLabel: { formatter: money },
  });
  return {
    animation: false,
    backgroundColor: '#ffffff',
    color: COLORS,
    textStyle: { fontFamily },
    title: { text: input.title.slice(0, 120), left: 'center', top: 8, textStyle: { fontSize: 16, fontWeight: 'normal' as const } },
    legend: { show: series.length > 1, bottom: 6, data: series.map((s) => s.name) },
    grid: { left: 70, right: dual ? 70 : 30, top: 50, bottom: series.length > 1 ? 60 : 40 },
    xAxis: { type: 'time' as const },
    yAxis: dual ? [axis(0), axis(1)] : [axis(0)],
    graphic: empty
      ? [{ type: 'text' as const, left: 'center', top: 'middle', style: { text: 'No data yet', fontSize: 14, fill: '#888888', fontFamily } }]
      : [],
    series: series.map((s, i) => ({
      name: s.name,
      type: 'line' as const,
      yAxisIndex: dual ? i : 0,
      showSymbol: s.points.length === 1,
      lineStyle: { width: 2 },
      data: s.points.map(([t, v]) => [t, v]),
    })),
  };
}

/** A PNG of the series. */
export async function renderEquityChart(input: EquityChartInput): Promise<Uint8Array> {
  const { echarts, Resvg } = await load();
  const width = clampSize(input.width, DEFAULT_WIDTH);
  const height = clampSize(input.height, DEFAULT_HEIGHT);
  const font = chartFont();
  const chart = echarts.init(null, null, { renderer: 'svg', ssr: true, width, height });
  let svg: string;
  try {
    chart.setOption({ useUTC: true, ...chartOption(input, font.family) });
    svg = chart.renderToSVGString();
  } finally {
    chart.dispose();
  }
  const png = new Resvg(svg, { font: font.resvg, background: '#ffffff', fitTo: { mode: 'original' }, logLevel: 'off' }).render().asPng();
  return new Uint8Array(png.buffer, png.byteOffset, png.byteLength);
}
