/* SR Lab comparison viewer: one <srlab-viewer> element, used by the app's Compare tab and by the
 * self-contained HTML export (srcore/html_report.py inlines this file), so both behave the same.
 *
 * Data: the element's data-viewer attribute, JSON:
 *   {title, width, height, images: [{key, label, src, kind, metrics: [[heading, text], ...]}],
 *    a, b, reference, note, hash}
 * Every image is drawn stretched to width x height output pixels with nearest-neighbour sampling
 * (the LR input is a smaller picture: it shows as its pixels enlarged). Only the visible region is
 * drawn (drawImage with a source rectangle), from bitmaps decoded once up front, so switching among
 * 15 methods of 4000 px is a redraw, not a decode. No network: images are data: URIs (export) or
 * URLs of the serving app.
 */
(() => {
  if (window.customElements.get('srlab-viewer')) return;

  // inferno, 9 stops (matplotlib), interpolated to 256 entries: the same palette as the app's error maps
  const STOPS = [[0, 0, 4], [31, 12, 72], [85, 15, 109], [136, 34, 106], [186, 54, 85], [227, 89, 51], [249, 140, 10], [249, 201, 50], [252, 255, 164]];
  const INFERNO = new Uint8Array(256 * 3);
  for (let i = 0; i < 256; i++) {
    const t = i / 255 * (STOPS.length - 1), k = Math.min(STOPS.length - 2, Math.floor(t)), f = t - k;
    for (let c = 0; c < 3; c++) INFERNO[i * 3 + c] = Math.round(STOPS[k][c] * (1 - f) + STOPS[k + 1][c] * f);
  }
  const MAX_ZOOM = 16;
  const esc = (s) => String(s).replace(/[&<>"']/g, (ch) => ({'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;'}[ch]));

  class SrlabViewer extends HTMLElement {
    connectedCallback() {
      if (this._started) return;
      if (!this.dataset.viewer) return;
      this._started = true;
      this.data = JSON.parse(this.dataset.viewer);
      const imgs = this.data.images;
      this.W = this.data.width; this.H = this.data.height;
      const byKey = (k, d) => { const i = imgs.findIndex((im) => im.key === k); return i >= 0 ? i : d; };
      this.state = {shown: 0, a: byKey(this.data.a, 0), b: byKey(this.data.b, Math.min(1, imgs.length - 1)), mode: 'view',
                    zoom: 0, cx: this.W / 2, cy: this.H / 2, amp: 4, heat: true, opacity: 0.5};
      this.state.shown = this.state.b;
      this.bitmaps = new Array(imgs.length).fill(null);
      this.blind = {pair: null, flip: false, showB: false, votes: []};
      this.readHash();
      this.build();
      this.load();
    }

    // ------------------------------------------------------------------ state in the page URL

    readHash() {
      if (!this.data.hash) return;
      const m = /srlab=([^#]*)/.exec(window.location.hash);
      if (!m) return;
      const p = new URLSearchParams(decodeURIComponent(m[1]));
      const idx = (k) => this.data.images.findIndex((im) => im.key === k);
      const s = this.state;
      for (const [name, key] of [['m', 'shown'], ['a', 'a'], ['b', 'b']]) if (p.has(name) && idx(p.get(name)) >= 0) s[key] = idx(p.get(name));
      for (const [name, key] of [['z', 'zoom'], ['x', 'cx'], ['y', 'cy'], ['amp', 'amp']]) {
        const v = parseFloat(p.get(name));
        if (Number.isFinite(v)) s[key] = v;
      }
      if (['view', 'diff', 'onion'].includes(p.get('mode'))) s.mode = p.get('mode');
    }

    writeHash() {
      if (!this.data.hash || this.state.mode === 'blind') return;
      const s = this.state, im = this.data.images;
      const p = new URLSearchParams({m: im[s.shown].key, a: im[s.a].key, b: im[s.b].key, mode: s.mode,
                                     z: s.zoom.toFixed(3), x: s.cx.toFixed(1), y: s.cy.toFixed(1), amp: String(s.amp)});
      const search = this.data.query ? '?' + this.data.query : window.location.search;
      window.history.replaceState(null, '', search + '#srlab=' + encodeURIComponent(p.toString()));
    }

    // ------------------------------------------------------------------ DOM

    build() {
      const d = this.data, imgs = d.images;
      const opts = imgs.map((im, i) => `<option value="${i}">${i < 9 ? (i + 1) + ' · ' : ''}${esc(im.label)}</option>`).join('');
      this.innerHTML = `
<div class="srv-bar">
  <span class="srv-modes" role="tablist">
    <button data-mode="view" title="one method at a time: keys 1-9, Space = next, B = flick between A and B">View</button>
    <button data-mode="diff" title="|A - B| amplified, as a heatmap or per channel">Difference</button>
    <button data-mode="onion" title="B over A with adjustable opacity">Onion skin</button>
    <button data-mode="blind" title="two methods as A and B in random order: which looks better?">Blind test</button>
  </span>
  <label class="srv-ab">A <select class="srv-a">${opts}</select></label>
  <label class="srv-ab">B <select class="srv-b">${opts}</select></label>
  <label class="srv-diffopt">×<input class="srv-amp" type="range" min="1" max="20" step="1"><span class="srv-ampv"></span></label>
  <label class="srv-diffopt"><input class="srv-heat" type="checkbox"> heatmap</label>
  <label class="srv-onionopt">B opacity <input class="srv-op" type="range" min="0" max="1" step="0.05"></label>
  <button class="srv-fit" title="fit the whole image (key F)">Fit</button>
  <button class="srv-one" title="one output pixel per screen pixel">1:1</button>
  <button class="srv-8" title="8× nearest-neighbour">8×</button>
  <span class="srv-zoomv"></span>
  ${d.hash ? '<button class="srv-link" title="copy a link to this view (method, position, zoom)">Copy link</button>' : ''}
</div>
<div class="srv-methods">${imgs.map((im, i) => `<button data-i="${i}" title="${esc(im.kind)}">${i < 9 ? `<b>${i + 1}</b> ` : ''}${esc(im.label)}</button>`).join('')}</div>
<div class="srv-stage" tabindex="0">
  <canvas class="srv-canvas"></canvas>
  <div class="srv-label"></div>
  <div class="srv-loading">decoding ${imgs.length} images…</div>
</div>
<div class="srv-blind">
  <span class="srv-blind-q">Which looks better? (Space or B flicks between A and B)</span>
  <button data-vote="A">A is better (1)</button><button data-vote="same">Same (3)</button><button data-vote="B">B is better (2)</button>
  <button class="srv-skip">Another pair (N)</button>
  <span class="srv-tally"></span>
  <button class="srv-csv">Download votes CSV</button>
</div>
<div class="srv-help">Wheel: zoom (fit … ${MAX_ZOOM}×, nearest neighbour) · drag: pan · 1–9: show method · Space: next · B: flick A⇄B · D: difference · O: onion skin · F: fit${d.note ? ' · ' + esc(d.note) : ''}</div>`;
      this.q = (sel) => this.querySelector(sel);
      this.canvas = this.q('.srv-canvas');
      this.stage = this.q('.srv-stage');
      const s = this.state;
      this.q('.srv-a').value = s.a; this.q('.srv-b').value = s.b;
      this.q('.srv-amp').value = s.amp; this.q('.srv-heat').checked = s.heat; this.q('.srv-op').value = s.opacity;
      this.querySelectorAll('.srv-modes button').forEach((btn) => btn.addEventListener('click', () => this.setMode(btn.dataset.mode)));
      this.querySelectorAll('.srv-methods button').forEach((btn) => btn.addEventListener('click', () => this.show(+btn.dataset.i)));
      this.q('.srv-a').addEventListener('change', (e) => { s.a = +e.target.value; this.draw(); });
      this.q('.srv-b').addEventListener('change', (e) => { s.b = +e.target.value; this.draw(); });
      this.q('.srv-amp').addEventListener('input', (e) => { s.amp = +e.target.value; this.draw(); });
      this.q('.srv-heat').addEventListener('change', (e) => { s.heat = e.target.checked; this.draw(); });
      this.q('.srv-op').addEventListener('input', (e) => { s.opacity = +e.target.value; this.draw(); });
      this.q('.srv-fit').addEventListener('click', () => this.setZoom(this.fitZoom()));
      this.q('.srv-one').addEventListener('click', () => this.setZoom(1));
      this.q('.srv-8').addEventListener('click', () => this.setZoom(8));
      const link = this.q('.srv-link');
      if (link) link.addEventListener('click', () => { this.writeHash(); navigator.clipboard?.writeText(window.location.href); link.textContent = 'Link copied'; });
      this.querySelectorAll('.srv-blind [data-vote]').forEach((btn) => btn.addEventListener('click', () => this.vote(btn.dataset.vote)));
      this.q('.srv-skip').addEventListener('click', () => this.newPair());
      this.q('.srv-csv').addEventListener('click', () => this.downloadCsv());
      // keys work wherever the focus is in the viewer (a clicked button hands it back to the picture);
      // the export page, with one viewer, takes them page-wide
      (this.data.autofocus ? document : this).addEventListener('keydown', (e) => {
        if (!e.target.closest || !e.target.closest('select, input, textarea')) this.onKey(e);
      });
      this.addEventListener('click', (e) => { if (e.target.closest('button')) this.stage.focus(); });
      this.stage.addEventListener('wheel', (e) => this.onWheel(e), {passive: false});
      this.stage.addEventListener('pointerdown', (e) => this.onDown(e));
      this.stage.addEventListener('pointermove', (e) => this.onMove(e));
      for (const ev of ['pointerup', 'pointercancel']) this.stage.addEventListener(ev, () => { this._drag = null; this.writeHash(); });
      this._resize = new ResizeObserver(() => this.draw());
      this._resize.observe(this.stage);
    }

    async load() {
      // Decode every picture once, up front: flicking is then a redraw of pixels already in memory.
      const jobs = this.data.images.map(async (im, i) => {
        const el = new Image();
        el.src = im.src;
        await el.decode();
        this.bitmaps[i] = window.createImageBitmap ? await createImageBitmap(el) : el;
      });
      await Promise.all(jobs);
      this.q('.srv-loading').remove();
      this.dataset.ready = '1';
      if (!this.state.zoom) this.state.zoom = this.fitZoom();
      this.setMode(this.state.mode);
      if (this.data.autofocus) this.stage.focus();
    }

    // ------------------------------------------------------------------ geometry

    fitZoom() {
      const r = this.stage.getBoundingClientRect();
      return Math.min(MAX_ZOOM, Math.max(1e-3, Math.min(r.width / this.W, r.height / this.H)));
    }

    clampView() {
      const s = this.state;
      s.zoom = Math.min(MAX_ZOOM, Math.max(Math.min(1, this.fitZoom()), s.zoom));
      s.cx = Math.min(this.W, Math.max(0, s.cx)); s.cy = Math.min(this.H, Math.max(0, s.cy));
    }

    setZoom(z, px, py) {
      // keep the output pixel under (px, py) (CSS px in the stage; default: the centre) where it is
      const s = this.state, r = this.stage.getBoundingClientRect();
      px = px ?? r.width / 2; py = py ?? r.height / 2;
      const ox = s.cx + (px - r.width / 2) / s.zoom, oy = s.cy + (py - r.height / 2) / s.zoom;
      s.zoom = z;
      this.clampView();
      s.cx = ox - (px - r.width / 2) / s.zoom; s.cy = oy - (py - r.height / 2) / s.zoom;
      this.clampView();
      this.draw(); this.writeHash();
    }

    onWheel(e) {
      e.preventDefault();
      const r = this.stage.getBoundingClientRect();
      this.setZoom(this.state.zoom * (e.deltaY < 0 ? 1.25 : 0.8), e.clientX - r.left, e.clientY - r.top);
    }

    onDown(e) {
      this.stage.focus();
      this._drag = {x: e.clientX, y: e.clientY, cx: this.state.cx, cy: this.state.cy};
      this.stage.setPointerCapture?.(e.pointerId);
    }

    onMove(e) {
      if (!this._drag) return;
      const s = this.state;
      s.cx = this._drag.cx - (e.clientX - this._drag.x) / s.zoom;
      s.cy = this._drag.cy - (e.clientY - this._drag.y) / s.zoom;
      this.clampView();
      this.draw();
    }

    // ------------------------------------------------------------------ keys and modes

    onKey(e) {
      const s = this.state, n = this.data.images.length, k = e.key;
      if (e.ctrlKey || e.metaKey || e.altKey) return;
      if (s.mode === 'blind') {
        const act = {' ': () => this.blindFlick(), b: () => this.blindFlick(), B: () => this.blindFlick(), 1: () => this.vote('A'),
                     2: () => this.vote('B'), 3: () => this.vote('same'), n: () => this.newPair(), Escape: () => this.setMode('view')}[k];
        if (act) { e.preventDefault(); act(); }
        return;
      }
      if (/^[1-9]$/.test(k) && +k <= n) { e.preventDefault(); this.show(+k - 1); return; }
      const act = {' ': () => this.show((s.shown + 1) % n), b: () => this.flick(), B: () => this.flick(),
                   d: () => this.setMode(s.mode === 'diff' ? 'view' : 'diff'), o: () => this.setMode(s.mode === 'onion' ? 'view' : 'onion'),
                   f: () => this.setZoom(this.fitZoom()), '+': () => this.setZoom(s.zoom * 1.25), '-': () => this.setZoom(s.zoom * 0.8)}[k];
      if (act) { e.preventDefault(); act(); }
    }

    show(i) {
      this.state.shown = i;
      if (this.state.mode !== 'view' && this.state.mode !== 'blind') this.state.mode = 'view';
      this.setMode(this.state.mode);
    }

    flick() {
      // B: flick between the two chosen methods, in place
      const s = this.state;
      s.shown = s.shown === s.a ? s.b : s.a;
      if (s.mode !== 'view') s.mode = 'view';
      this.setMode('view');
    }

    setMode(mode) {
      const s = this.state;
      s.mode = mode;
      this.dataset.mode = mode;
      this.querySelectorAll('.srv-modes button').forEach((b) => b.classList.toggle('on', b.dataset.mode === mode));
      this.querySelectorAll('.srv-methods button').forEach((b) => b.classList.toggle('on', +b.dataset.i === s.shown));
      if (mode === 'blind' && !this.blind.pair) this.newPair();
      this.draw(); this.writeHash();
    }

    // ------------------------------------------------------------------ blind test

    candidates() {
      return this.data.images.map((im, i) => [im, i]).filter(([im]) => im.kind === 'method').map(([, i]) => i);
    }

    newPair() {
      const c = this.candidates();
      if (c.length < 2) { this.blind.pair = null; this.draw(); return; }
      let i = Math.floor(Math.random() * c.length), j = Math.floor(Math.random() * (c.length - 1));
      if (j >= i) j += 1;
      this.blind.pair = [c[i], c[j]]; // [shown as A, shown as B]: the order is the random draw itself
      this.blind.showB = false;
      this.draw();
    }

    blindFlick() { this.blind.showB = !this.blind.showB; this.draw(); }

    vote(choice) {
      const p = this.blind.pair;
      if (!p) return;
      const im = this.data.images;
      const winner = choice === 'A' ? im[p[0]].key : choice === 'B' ? im[p[1]].key : '';
      this.blind.votes.push({time: new Date().toISOString(), a: im[p[0]].key, b: im[p[1]].key, choice, winner});
      this.newPair();
    }

    tally() {
      const t = {};
      for (const v of this.blind.votes) {
        for (const k of [v.a, v.b]) t[k] = t[k] || {votes: 0, wins: 0, ties: 0, losses: 0};
        t[v.a].votes++; t[v.b].votes++;
        if (v.choice === 'same') { t[v.a].ties++; t[v.b].ties++; } else { t[v.winner].wins++; t[v.winner === v.a ? v.b : v.a].losses++; }
      }
      return t;
    }

    csvText() {
      // per-method win rate (a tie counts half), then every vote; one file, two blocks with their own header
      const q = (x) => '"' + String(x).replace(/"/g, '""') + '"';
      const label = Object.fromEntries(this.data.images.map((im) => [im.key, im.label]));
      const lines = ['method,label,votes,wins,ties,losses,win_rate'];
      const t = this.tally();
      for (const [k, r] of Object.entries(t).sort((x, y) => (y[1].wins + y[1].ties / 2) / y[1].votes - (x[1].wins + x[1].ties / 2) / x[1].votes)) {
        lines.push([q(k), q(label[k]), r.votes, r.wins, r.ties, r.losses, ((r.wins + 0.5 * r.ties) / r.votes).toFixed(4)].join(','));
      }
      lines.push('', 'vote,time,shown_as_A,shown_as_B,choice,winner');
      this.blind.votes.forEach((v, i) => lines.push([i + 1, v.time, q(v.a), q(v.b), v.choice, q(v.winner)].join(',')));
      return lines.join('\n') + '\n';
    }

    downloadCsv() {
      const a = document.createElement('a');
      a.href = URL.createObjectURL(new Blob([this.csvText()], {type: 'text/csv'}));
      a.download = 'srlab_blind_votes.csv';
      document.body.appendChild(a); a.click(); a.remove();
    }

    // ------------------------------------------------------------------ drawing

    region() {
      // the visible part of the output image, in whole output pixels, and where it lands on the canvas (device px)
      const s = this.state, c = this.canvas, z = s.zoom * this.dpr;
      const x0 = s.cx - c.width / 2 / z, y0 = s.cy - c.height / 2 / z;
      const sx0 = Math.max(0, Math.floor(x0)), sy0 = Math.max(0, Math.floor(y0));
      const sx1 = Math.min(this.W, Math.ceil(x0 + c.width / z)), sy1 = Math.min(this.H, Math.ceil(y0 + c.height / z));
      return {sx0, sy0, sw: sx1 - sx0, sh: sy1 - sy0, dx: Math.round((sx0 - x0) * z), dy: Math.round((sy0 - y0) * z),
              dw: Math.round((sx1 - sx0) * z), dh: Math.round((sy1 - sy0) * z)};
    }

    blit(ctx, i, r) {
      const bm = this.bitmaps[i];
      if (!bm || r.sw <= 0 || r.sh <= 0) return;
      const fx = bm.width / this.W, fy = bm.height / this.H; // 1 for outputs; 1/scale for the LR input
      ctx.drawImage(bm, r.sx0 * fx, r.sy0 * fy, r.sw * fx, r.sh * fy, r.dx, r.dy, r.dw, r.dh);
    }

    draw() {
      if (!this.canvas || this.dataset.ready !== '1') return;
      this.dpr = window.devicePixelRatio || 1;
      const rect = this.stage.getBoundingClientRect(), c = this.canvas;
      const w = Math.max(1, Math.round(rect.width * this.dpr)), h = Math.max(1, Math.round(rect.height * this.dpr));
      if (c.width !== w || c.height !== h) { c.width = w; c.height = h; }
      const ctx = c.getContext('2d', {willReadFrequently: this.state.mode === 'diff'});
      ctx.imageSmoothingEnabled = false;
      ctx.globalAlpha = 1;
      ctx.clearRect(0, 0, w, h);
      const s = this.state, r = this.region(), im = this.data.images;
      let label;
      if (s.mode === 'blind') {
        const p = this.blind.pair;
        if (!p) { label = '<b>Blind test needs two methods</b>'; } else {
          this.blit(ctx, p[this.blind.showB ? 1 : 0], r);
          label = `<b class="srv-blind-letter">${this.blind.showB ? 'B' : 'A'}</b> (methods hidden until you download the CSV)`;
        }
        const t = this.blind.votes.length;
        this.q('.srv-tally').textContent = `${t} vote${t === 1 ? '' : 's'} this session`;
      } else if (s.mode === 'diff') {
        this.diff(ctx, r);
        label = `<b>|A − B| ×${s.amp}</b> ${s.heat ? '(heatmap, mean over RGB)' : '(per channel)'} · A = ${esc(im[s.a].label)} · B = ${esc(im[s.b].label)}`;
      } else if (s.mode === 'onion') {
        this.blit(ctx, s.a, r);
        ctx.globalAlpha = s.opacity;
        this.blit(ctx, s.b, r);
        ctx.globalAlpha = 1;
        label = `<b>Onion skin</b> · A = ${esc(im[s.a].label)} under B = ${esc(im[s.b].label)} at ${Math.round(s.opacity * 100)} %`;
      } else {
        this.blit(ctx, s.shown, r);
        const m = im[s.shown];
        const metrics = (m.metrics || []).map(([head, v]) => `<span class="srv-m">${esc(head)} <b>${esc(v)}</b></span>`).join('');
        label = `<b class="srv-name">${s.shown < 9 ? (s.shown + 1) + ' · ' : ''}${esc(m.label)}</b>${metrics}`;
      }
      this.q('.srv-label').innerHTML = label;
      this.dataset.shown = s.mode === 'blind' ? '' : im[s.shown].key;
      this.q('.srv-zoomv').textContent = `${s.zoom >= 1 ? s.zoom.toFixed(s.zoom % 1 ? 2 : 0) : s.zoom.toFixed(3)}×`;
      this.q('.srv-ampv').textContent = `${s.amp}`;
      this.querySelectorAll('.srv-methods button').forEach((b) => b.classList.toggle('on', s.mode === 'view' && +b.dataset.i === s.shown));
    }

    diff(ctx, r) {
      // |A - B| of the visible region only, computed on the pixels as drawn (nearest neighbour, so exact per output pixel)
      if (r.dw <= 0 || r.dh <= 0) return;
      const off = (i) => {
        const o = new OffscreenCanvas(r.dw, r.dh), octx = o.getContext('2d', {willReadFrequently: true});
        octx.imageSmoothingEnabled = false;
        this.blit(octx, i, {...r, dx: 0, dy: 0});
        return octx.getImageData(0, 0, r.dw, r.dh).data;
      };
      let a, b;
      try { a = off(this.state.a); b = off(this.state.b); } catch (err) {
        // pictures from another origin (e.g. opened from file:// next to the page) cannot be read back
        this.q('.srv-loading')?.remove();
        ctx.fillStyle = '#ddd'; ctx.font = '16px sans-serif';
        ctx.fillText('Difference view unavailable: the pictures cannot be read back here (' + err.name + ')', 20, 60);
        return;
      }
      const out = ctx.createImageData(r.dw, r.dh), o = out.data;
      const amp = this.state.amp, heat = this.state.heat;
      for (let p = 0; p < o.length; p += 4) {
        const dr = Math.abs(a[p] - b[p]), dg = Math.abs(a[p + 1] - b[p + 1]), db = Math.abs(a[p + 2] - b[p + 2]);
        if (heat) {
          const v = Math.min(255, Math.round((dr + dg + db) / 3 * amp)) * 3;
          o[p] = INFERNO[v]; o[p + 1] = INFERNO[v + 1]; o[p + 2] = INFERNO[v + 2];
        } else {
          o[p] = Math.min(255, dr * amp); o[p + 1] = Math.min(255, dg * amp); o[p + 2] = Math.min(255, db * amp);
        }
        o[p + 3] = 255;
      }
      ctx.putImageData(out, r.dx, r.dy);
    }
  }

  window.customElements.define('srlab-viewer', SrlabViewer);
})();
