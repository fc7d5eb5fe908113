// The customer dashboard: fetches its three data files (relative to the page, so the customer id
// never appears in this script) and renders them. Data goes into the page only through
// textContent and DOM APIs, never as markup; the Content-Security-Policy allows no inline code.
'use strict';

(function () {
  var SVG_NS = 'http://www.w3.org/2000/svg';

  var usd = new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD' });
  var usdCompact = new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD', notation: 'compact', maximumFractionDigits: 2 });
  var plain = new Intl.NumberFormat('en-US', { maximumFractionDigits: 8 });
  var twoDigits = new Intl.NumberFormat('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  var dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
  var shortDate = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric' });

  function byId(id) {
    return document.getElementById(id);
  }

  /** An element with a class and text; children are appended as nodes. */
  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function svg(tag, attributes) {
    var node = document.createElementNS(SVG_NS, tag);
    Object.keys(attributes || {}).forEach(function (name) {
      node.setAttribute(name, String(attributes[name]));
    });
    return node;
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
  }

  function setText(id, text) {
    byId(id).textContent = text;
  }

  function formatTime(value) {
    var date = new Date(value);
    return isNaN(date.getTime()) ? String(value) : dateTime.format(date);
  }

  /** "3 min ago", measured against the server's clock (generated_at), not this computer's. */
  function ago(iso, nowIso) {
    var ms = new Date(nowIso).getTime() - new Date(iso).getTime();
    if (!isFinite(ms)) return '';
    var minutes = Math.max(0, Math.round(ms / 60000));
    if (minutes < 1) return 'just now';
    if (minutes < 60) return minutes + ' min ago';
    var hours = Math.round(minutes / 60);
    if (hours < 48) return hours + ' h ago';
    return Math.round(hours / 24) + ' days ago';
  }

  /** 61200.5 -> 61,200.5 without going through a float, so every stored digit stays. */
  function groupDigits(text) {
    var match = /^(-?)(\d+)(\.\d+)?$/.exec(text);
    if (!match) return text;
    return match[1] + match[2].replace(/\B(?=(\d{3})+(?!\d))/g, ',') + (match[3] || '');
  }

  function signedUsd(value) {
    return (value > 0 ? '+' : '') + usd.format(value);
  }

  function signClass(value) {
    return value > 0 ? 'num pos' : value < 0 ? 'num neg' : 'num';
  }

  function badge(text, kind) {
    return el('span', 'badge badge-' + kind, text);
  }

  function cell(row, text, className) {
    var td = el('td', className || '', text);
    row.appendChild(td);
    return td;
  }

  // ------------------------------------------------------------------------------------------
  // Fetching
  // ------------------------------------------------------------------------------------------

  function fetchData(name, parse) {
    return fetch('data/' + name, { cache: 'no-store', credentials: 'omit' }).then(function (response) {
      if (!response.ok) throw new Error(name + ' could not be loaded (HTTP ' + response.status + ').');
      return parse(response);
    });
  }

  /** RFC 4180: quoted fields may hold commas, line breaks and doubled quotes. */
  function parseCsv(text) {
    var rows = [];
    var row = [];
    var field = '';
    var quoted = false;
    for (var i = 0; i < text.length; i++) {
      var c = text[i];
      if (quoted) {
        if (c === '"') {
          if (text[i + 1] === '"') {
            field += '"';
            i++;
          } else {
            quoted = false;
          }
        } else {
          field += c;
        }
      } else if (c === '"') {
        quoted = true;
      } else if (c === ',') {
        row.push(field);
        field = '';
      } else if (c === '\r' || c === '\n') {
        if (c === '\r' && text[i + 1] === '\n') i++;
        row.push(field);
        rows.push(row);
        row = [];
        field = '';
      } else {
        field += c;
      }
    }
    if (field !== '' || row.length > 0) {
      row.push(field);
      rows.push(row);
    }
    return rows;
  }

  function csvRecords(text) {
    var rows = parseCsv(text);
    var header = rows.shift() || [];
    return rows.map(function (values) {
      var record = {};
      header.forEach(function (name, i) {
        record[name] = values[i] === undefined ? '' : values[i];
      });
      return record;
    });
  }

  // ------------------------------------------------------------------------------------------
  // Status: account, bot, runs
  // ------------------------------------------------------------------------------------------

  function renderAccount(status) {
    var account = status.account;
    setText('generated', 'Updated ' + formatTime(status.generated_at));
    var tier = byId('account-tier');
    clear(tier);
    tier.textContent = account.tier_name || 'No active license';
    var license = byId('account-license');
    clear(license);
    var kinds = { active: 'ok', issued: 'muted', revoked: 'bad', none: 'muted' };
    var words = { active: 'Active', issued: 'Not activated yet', revoked: 'Revoked', none: 'None' };
    license.appendChild(badge(words[account.license_status] || account.license_status, kinds[account.license_status] || 'muted'));
  }

  function renderBot(status) {
    var bot = status.bot;
    var stale = byId('bot-stale');
    var list = byId('bot-position-list');
    clear(list);
    if (!bot) {
      setText('bot-status', 'No status received yet');
      setText('bot-version', '–');
      setText('bot-equity', '–');
      setText('bot-positions', '–');
      stale.hidden = true;
      return;
    }
    var statusCell = byId('bot-status');
    clear(statusCell);
    statusCell.appendChild(badge(bot.stale ? 'Not reporting' : 'Reporting', bot.stale ? 'warn' : 'ok'));
    statusCell.appendChild(document.createTextNode(' last push ' + ago(bot.received_at, status.generated_at)));
    setText('bot-version', bot.version);
    setText('bot-equity', usd.format(bot.equity_usd));
    setText('bot-positions', String(bot.open_positions.length));
    stale.hidden = !bot.stale;
    if (bot.stale) {
      stale.textContent =
        'The bot has not reported since ' + formatTime(bot.received_at) + ' (' + ago(bot.received_at, status.generated_at) + '). Check that it is running and online.';
    }
    bot.open_positions.forEach(function (p) {
      var item = el('li');
      item.appendChild(el('span', 'pos-symbol', p.symbol));
      var detail = plain.format(p.qty) + (p.avg_price !== null ? ' @ ' + plain.format(p.avg_price) : '');
      if (p.capital_usd !== null) detail += ' · ' + usd.format(p.capital_usd);
      item.appendChild(el('span', 'muted', detail));
      list.appendChild(item);
    });
  }

  function renderRuns(status) {
    var live = status.runs.filter(function (r) {
      return r.mode === 'live';
    }).length;
    setText('account-runs', status.runs.length === 0 ? 'None' : status.runs.length + ' (' + live + ' live, ' + (status.runs.length - live) + ' paper)');
    var body = byId('runs-table').tBodies[0];
    clear(body);
    status.runs.forEach(function (run) {
      var row = el('tr');
      cell(row, '#' + run.seq);
      cell(row, run.strategy);
      cell(row, run.symbol);
      cell(row, '').appendChild(badge(run.mode, run.mode === 'live' ? 'live' : 'muted'));
      cell(row, usd.format(run.capital_usd), 'num');
      cell(row, signedUsd(run.realized_pnl_usd), signClass(run.realized_pnl_usd));
      cell(row, run.status);
      cell(row, formatTime(run.started_at));
      body.appendChild(row);
    });
    byId('runs-table').hidden = status.runs.length === 0;
    byId('runs-empty').hidden = status.runs.length > 0;
  }

  // ------------------------------------------------------------------------------------------
  // Equity chart (inline SVG)
  // ------------------------------------------------------------------------------------------

  function renderEquity(status) {
    var equity = status.equity;
    var series = equity.series;
    var chart = byId('equity-chart');
    var stats = byId('equity-stats');
    clear(chart);
    clear(stats);
    var basis = { real: '· self-hosted bot and live runs, last 30 days', paper: '· paper runs, last 30 days', none: '' };
    setText('equity-basis', basis[equity.basis] || '');

    if (series.length < 2) {
      var message = 'No equity data yet.';
      if (series.length === 1) message += ' One reading so far: ' + usd.format(series[0][1]) + ' on ' + formatTime(series[0][0]) + '.';
      chart.appendChild(el('p', 'empty', message));
      return;
    }

    var values = series.map(function (p) {
      return p[1];
    });
    var first = values[0];
    var last = values[values.length - 1];
    var low = Math.min.apply(null, values);
    var high = Math.max.apply(null, values);
    var change = last - first;
    addStat(stats, 'Now', usd.format(last), '');
    addStat(stats, 'Change', signedUsd(change) + (first > 0 ? ' (' + (change >= 0 ? '+' : '') + twoDigits.format((change / first) * 100) + '%)' : ''), change > 0 ? 'pos' : change < 0 ? 'neg' : '');
    addStat(stats, 'Low', usd.format(low), '');
    addStat(stats, 'High', usd.format(high), '');

    // Drawn at the container's own width, so labels keep their size on a phone.
    var width = Math.max(300, Math.round(chart.clientWidth || 800));
    var height = width < 560 ? 220 : 280;
    var pad = { left: 68, right: 14, top: 16, bottom: 36 };
    var plotW = width - pad.left - pad.right;
    var plotH = height - pad.top - pad.bottom;
    var t0 = series[0][0];
    var t1 = series[series.length - 1][0];
    var span = high - low;
    // A flat line sits in the middle instead of on an edge.
    var yMin = span > 0 ? low - span * 0.08 : low - Math.max(1, Math.abs(low) * 0.01);
    var yMax = span > 0 ? high + span * 0.08 : high + Math.max(1, Math.abs(high) * 0.01);
    var x = function (t) {
      return pad.left + (t1 > t0 ? ((t - t0) / (t1 - t0)) * plotW : plotW / 2);
    };
    var y = function (v) {
      return pad.top + (1 - (v - yMin) / (yMax - yMin)) * plotH;
    };

    var root = svg('svg', { viewBox: '0 0 ' + width + ' ' + height, class: 'equity-svg', role: 'img', 'aria-label': 'Equity over time, from ' + usd.format(first) + ' to ' + usd.format(last) });
    var grid = svg('g', { class: 'chart-grid' });
    for (var i = 0; i <= 4; i++) {
      var value = yMin + ((yMax - yMin) * i) / 4;
      var gy = y(value);
      grid.appendChild(svg('line', { x1: pad.left, x2: width - pad.right, y1: gy, y2: gy }));
      var label = svg('text', { x: pad.left - 8, y: gy + 4, 'text-anchor': 'end', class: 'axis-label' });
      label.textContent = usdCompact.format(value);
      grid.appendChild(label);
    }
    [t0, (t0 + t1) / 2, t1].forEach(function (t, index) {
      var label = svg('text', { x: x(t), y: height - 12, 'text-anchor': ['start', 'middle', 'end'][index], class: 'axis-label' });
      label.textContent = shortDate.format(new Date(t));
      grid.appendChild(label);
    });
    grid.appendChild(svg('line', { class: 'axis', x1: pad.left, x2: width - pad.right, y1: pad.top + plotH, y2: pad.top + plotH }));
    root.appendChild(grid);

    var points = series.map(function (p) {
      return x(p[0]).toFixed(1) + ',' + y(p[1]).toFixed(1);
    });
    var baseline = (pad.top + plotH).toFixed(1);
    root.appendChild(svg('polygon', { class: 'equity-area', points: x(t0).toFixed(1) + ',' + baseline + ' ' + points.join(' ') + ' ' + x(t1).toFixed(1) + ',' + baseline }));
    root.appendChild(svg('polyline', { class: 'equity-line', points: points.join(' ') }));

    var highIndex = values.indexOf(high);
    var lowIndex = values.indexOf(low);
    // The high and the low get a dot where they are not already an end of the line.
    if (highIndex !== 0 && highIndex !== series.length - 1) root.appendChild(svg('circle', { class: 'marker marker-high', cx: x(series[highIndex][0]), cy: y(high), r: 3.5 }));
    if (lowIndex !== 0 && lowIndex !== series.length - 1) root.appendChild(svg('circle', { class: 'marker marker-low', cx: x(series[lowIndex][0]), cy: y(low), r: 3.5 }));
    root.appendChild(svg('circle', { class: 'marker marker-last', cx: x(t1), cy: y(last), r: 4.5 }));
    chart.appendChild(root);
  }

  function addStat(container, name, value, className) {
    var stat = el('div', 'stat');
    stat.appendChild(el('span', 'stat-name', name));
    stat.appendChild(el('span', 'stat-value ' + className, value));
    container.appendChild(stat);
  }

  // ------------------------------------------------------------------------------------------
  // Trades and scanner
  // ------------------------------------------------------------------------------------------

  function renderTrades(trades) {
    var body = byId('trades-table').tBodies[0];
    clear(body);
    var fragment = document.createDocumentFragment();
    trades.forEach(function (t) {
      var row = el('tr');
      cell(row, formatTime(t.executed_at));
      cell(row, t.source);
      cell(row, '', 'symbol').appendChild(el('span', 'symbol-text', t.symbol));
      cell(row, '').appendChild(badge(t.side, t.side === 'buy' ? 'buy' : t.side === 'sell' ? 'sell' : 'muted'));
      cell(row, groupDigits(t.price), 'num');
      cell(row, groupDigits(t.qty), 'num');
      cell(row, groupDigits(t.fee), 'num');
      var pnl = t.realized_pnl_usd === '' ? NaN : Number(t.realized_pnl_usd);
      cell(row, isNaN(pnl) ? '–' : signedUsd(pnl), isNaN(pnl) ? 'num muted' : signClass(pnl));
      fragment.appendChild(row);
    });
    body.appendChild(fragment);
    setText('trades-count', trades.length ? '· newest ' + trades.length : '');
    byId('trades-table').hidden = trades.length === 0;
    byId('trades-empty').hidden = trades.length > 0;
  }

  function renderScanner(scanner) {
    var body = byId('scanner-table').tBodies[0];
    var note = byId('scanner-note');
    clear(body);
    var notes = [scanner.message, scanner.warning].filter(Boolean);
    note.hidden = notes.length === 0;
    note.textContent = notes.join(' ');
    setText('account-scanner', scanner.message ? 'Not available' : scanner.degraded ? 'Limited (top ' + scanner.rankings.length + ')' : 'Included');
    setText('scanner-meta', scanner.timestamp ? 'Scan of ' + formatTime(scanner.timestamp) + (scanner.next_scan ? ' · next ' + formatTime(scanner.next_scan) : '') : '');
    scanner.rankings.forEach(function (r, i) {
      var row = el('tr');
      cell(row, String(i + 1), 'num muted');
      cell(row, r.pair || r.symbol, 'symbol');
      cell(row, twoDigits.format(r.composite_score), 'num strong');
      cell(row, twoDigits.format(r.daily_roi_pct) + '%', signClass(r.daily_roi_pct));
      cell(row, twoDigits.format(r.cycles_per_day), 'num');
      cell(row, twoDigits.format(r.friendly_regime_pct) + '%', 'num');
      body.appendChild(row);
    });
    byId('scanner-table').hidden = scanner.rankings.length === 0;
  }

  // ------------------------------------------------------------------------------------------

  function showErrors(messages) {
    var box = byId('error');
    clear(box);
    box.appendChild(el('strong', '', 'Some of your data could not be loaded.'));
    var list = el('ul');
    messages.forEach(function (m) {
      list.appendChild(el('li', '', m));
    });
    box.appendChild(list);
    box.appendChild(el('p', 'small', 'Reload the page to try again.'));
    box.hidden = false;
  }

  function json(response) {
    return response.json();
  }

  function csv(response) {
    return response.text().then(csvRecords);
  }

  function renderStatus(status) {
    renderAccount(status);
    renderBot(status);
    renderRuns(status);
    renderEquity(status);
    redrawOnResize(status);
  }

  function redrawOnResize(status) {
    var drawnWidth = byId('equity-chart').clientWidth;
    var timer = null;
    window.addEventListener('resize', function () {
      clearTimeout(timer);
      timer = setTimeout(function () {
        var width = byId('equity-chart').clientWidth;
        if (width === drawnWidth) return;
        drawnWidth = width;
        renderEquity(status);
      }, 150);
    });
  }

  function start() {
    var parts = [
      { file: 'status.json', parse: json, render: renderStatus },
      { file: 'trades.csv', parse: csv, render: renderTrades },
      { file: 'scanner.json', parse: json, render: renderScanner },
    ];
    Promise.all(
      parts.map(function (part) {
        return fetchData(part.file, part.parse)
          .then(function (data) {
            part.render(data);
            return null;
          })
          .catch(function (error) {
            return error && error.message ? error.message : part.file + ' could not be shown.';
          });
      }),
    ).then(function (failures) {
      var messages = failures.filter(Boolean);
      if (messages.length) showErrors(messages);
      // Tests and monitors wait for this: "true" once everything rendered, "error" otherwise.
      document.body.setAttribute('data-ready', messages.length ? 'error' : 'true');
    });
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
