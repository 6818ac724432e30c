/* The run report's behaviour (grounding/report): reads the page data (JSON in #report-data, see
   grounding/report/gather.py), builds one row per query, filters (correct / wrong at IoU 0.5),
   sorts (by IoU), and shows the clicked query: its video seeked to the window, its timeline
   (ground truth, predictions, the model's curves, the video's priors on lanes, a playhead) and
   the priors' texts aligned in time. Sets window.reportReady once every row is in the DOM. */
"use strict";
(() => {
  const DATA = JSON.parse(document.getElementById("report-data").textContent);
  const CORRECT = 0.5;  // a query is correct when its top-1 prediction has IoU >= 0.5 (R1@0.5)
  const CURVE_STEPS = 1000;  // curves travel as integers 0..1000 of their maximum (gather.py)
  const COLORS = ["var(--curve1)", "var(--curve2)", "var(--curve3)", "var(--curve4)"];
  const $ = (selector) => document.querySelector(selector);
  const ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", "\"": "&quot;", "'": "&#39;"};
  const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ENTITIES[c]);
  const secs = (t) => Number(t).toFixed(1) + "s";
  const state = {filter: "all", sort: "iou-desc", split: "", search: "", selected: -1, visible: []};
  const rowsEl = $("#rows"), player = $("#player"), svg = $("#timeline");
  let rowEls = [];

  // -- header: metrics and notes ------------------------------------------------------------------
  function metricsTable() {
    const m = DATA.metrics, overall = m.overall || {};
    const keys = Object.keys(overall).filter((k) => k !== "n" && typeof overall[k] === "number");
    const cell = (v) => (typeof v === "number" ? v.toFixed(2) : "");
    const line = (name, values, cls) => `<tr class="${cls}"><td>${esc(name)}</td>` +
      keys.map((k) => `<td>${cell(values[k])}</td>`).join("") + `<td>${values.n ?? ""}</td></tr>`;
    const splits = Object.entries(m.splits || {});
    const label = splits.length === 1 ? splits[0][0] : "all";
    let rows = line(label, {...overall, n: overall.n ?? (m.counts || {}).gt}, "all");
    if (splits.length > 1) rows += splits.map(([name, values]) => line(name, values, "")).join("");
    const head = keys.map((k) => `<th>${esc(k)}</th>`).join("");
    return `<table class="metrics"><thead><tr><th>split</th>${head}<th>n</th></tr></thead>` +
      `<tbody>${rows}</tbody></table>`;
  }

  function renderHeader() {
    $("#title").textContent = DATA.title;
    document.title = DATA.title + " — grounding report";
    $("#meta").textContent = [`dataset ${DATA.dataset}`, `split ${DATA.splits.join(", ")}`,
      `${DATA.queries.length} queries`, `model ${DATA.model || "?"}`, `run ${DATA.run}`,
      `written ${DATA.generated_at}`].join(" · ");
    $("#metrics").innerHTML = DATA.metrics.suite === "none"
      ? "<p class='meta'>no query has ground truth: nothing scored</p>" : metricsTable();
    const notes = DATA.notes.map((n) => `<li>${esc(n)}</li>`);
    const c = DATA.metrics.counts || {};
    if (c.missing_predictions) {
      notes.push(`<li class="warn">${c.missing_predictions} queries have no prediction (scored as misses)</li>`);
    }
    if (DATA.missing_videos.length) {
      const shown = DATA.missing_videos.slice(0, 5).join(", ") + (DATA.missing_videos.length > 5 ? ", ..." : "");
      notes.push(`<li class="warn">${DATA.missing_videos.length} videos not found (${esc(shown)}) in ` +
        `${esc(DATA.video_folders.join(", ") || "no video folder")}: pass --videos DIR</li>`);
    }
    $("#notes").innerHTML = notes.join("");
    const splits = [...new Set(DATA.queries.map((q) => q.split))];
    if (splits.length > 1) {
      $("#split").innerHTML = `<option value="">all splits</option>` +
        splits.map((s) => `<option>${esc(s)}</option>`).join("");
      $("#split-box").hidden = false;
    }
  }

  // -- the rows --------------------------------------------------------------------------------------
  function outcome(q) {
    return q.iou === null ? "none" : q.iou >= CORRECT ? "ok" : "bad";
  }

  function miniTimeline(q) {
    const d = DATA.videos[q.vid].duration || 1, x = (t) => (100 * Math.max(0, Math.min(t, d)) / d).toFixed(2);
    const w = (s, e) => Math.max(0.4, x(e) - x(s)).toFixed(2);
    const gt = q.gt.map(([s, e]) => `<rect class="mini-gt" x="${x(s)}" y="0" width="${w(s, e)}" height="4"/>`).join("");
    const top = q.pred[0];
    const p = top ? `<rect class="mini-pred" x="${x(top[0])}" y="6" width="${w(top[0], top[1])}" height="4"/>` : "";
    return `<svg viewBox="0 0 100 10" preserveAspectRatio="none">` +
      `<rect class="mini-bg" width="100" height="10"/>${gt}${p}</svg>`;
  }

  function rowHtml(q, i) {
    const o = outcome(q), iou = q.iou === null ? "—" : q.iou.toFixed(2);
    return `<div class="row" data-i="${i}" data-qid="${esc(q.qid)}" data-outcome="${o}">` +
      `<div class="q" title="${esc(q.query)}">${esc(q.query)}</div><div class="iou ${o}">${iou}</div>` +
      `<div class="id">${esc(q.qid)} · ${esc(q.vid)}</div>${miniTimeline(q)}</div>`;
  }

  const SORTS = {
    "iou-desc": (a, b) => (b.iou ?? -1) - (a.iou ?? -1),
    "iou-asc": (a, b) => (a.iou ?? 2) - (b.iou ?? 2),
    "order": () => 0,
    "video": (a, b) => (a.vid < b.vid ? -1 : a.vid > b.vid ? 1 : 0),
  };

  function keep(q) {
    if (state.split && q.split !== state.split) return false;
    if (state.filter !== "all" && outcome(q) !== state.filter) return false;
    if (!state.search) return true;
    return (q.query + " " + q.vid + " " + q.qid).toLowerCase().includes(state.search);
  }

  function applyView() {
    const idx = DATA.queries.map((q, i) => i);
    const cmp = SORTS[state.sort];
    idx.sort((a, b) => cmp(DATA.queries[a], DATA.queries[b]) || a - b);
    const fragment = document.createDocumentFragment();
    state.visible = [];
    for (const i of idx) {
      const shown = keep(DATA.queries[i]);
      rowEls[i].hidden = !shown;
      if (shown) state.visible.push(i);
      fragment.appendChild(rowEls[i]);
    }
    rowsEl.appendChild(fragment);
    const n = {ok: 0, bad: 0};
    for (const q of DATA.queries) if (outcome(q) in n) n[outcome(q)] += 1;
    $("#count-all").textContent = DATA.queries.length;
    $("#count-ok").textContent = n.ok;
    $("#count-bad").textContent = n.bad;
    $("#shown").textContent = `${state.visible.length} shown`;
  }

  function renderRows() {
    rowsEl.innerHTML = DATA.queries.map(rowHtml).join("");
    rowEls = Array.from(rowsEl.children);
  }

  // -- the player -------------------------------------------------------------------------------------
  let pendingSeek = null, stopAt = null;

  function seek(t, play = false, until = null) {
    stopAt = until;
    if (!player.getAttribute("src")) return;
    if (player.readyState >= 1) player.currentTime = t;
    else pendingSeek = t;  // applied once the metadata is in (loadedmetadata below)
    if (play) player.play().catch(() => {});
  }

  player.addEventListener("loadedmetadata", () => {
    if (pendingSeek !== null) player.currentTime = pendingSeek;
    pendingSeek = null;
  });
  player.addEventListener("timeupdate", () => {
    if (stopAt !== null && player.currentTime >= stopAt) { player.pause(); stopAt = null; }
    movePlayhead();
  });
  player.addEventListener("seeked", movePlayhead);
  player.addEventListener("error", () => {  // e.g. an MPEG-4 Part 2 file: Chromium decodes H.264, VP8/9, AV1
    if (!player.getAttribute("src") || !player.error) return;
    player.hidden = true;
    $("#novideo").hidden = false;
    $("#novideo").textContent = `this browser cannot play ${decodeURIComponent(player.getAttribute("src"))} ` +
      `(${player.error.message || "error " + player.error.code}); re-encode it as H.264 MP4 to watch it here`;
  });

  function loadVideo(q) {
    const src = DATA.videos[q.vid].src;
    player.hidden = !src;
    $("#novideo").hidden = !!src;
    if (!src) {
      player.removeAttribute("src");
      player.load();
      $("#novideo").textContent = `video ${q.vid} not found in ${DATA.video_folders.join(", ") || "any folder"}` +
        " (grounding-report --videos DIR)";
      return;
    }
    if (player.getAttribute("src") !== src) { pendingSeek = null; player.src = src; }
  }

  // -- the timeline ------------------------------------------------------------------------------------
  const LEFT = 96, RIGHT = 12;
  let geometry = null;  // {x: t -> px, t: px -> s, height}

  function lanes(items, maxLanes) {
    const ends = [];
    return items.map((it) => {
      let lane = ends.findIndex((end) => end <= it[0]);
      if (lane < 0) lane = ends.length < maxLanes ? ends.length : ends.indexOf(Math.min(...ends));
      ends[lane] = it[1];
      return lane;
    });
  }

  function niceStep(d) {
    const raw = d / 10, p = Math.pow(10, Math.floor(Math.log10(raw)));
    return [1, 2, 5, 10].map((m) => m * p).find((s) => s >= raw);
  }

  function drawTimeline(q) {
    const video = DATA.videos[q.vid], d = video.duration || 1;
    const width = Math.max(400, svg.clientWidth || svg.parentNode.clientWidth || 800);
    const x = (t) => LEFT + (width - LEFT - RIGHT) * Math.max(0, Math.min(t, d)) / d;
    const parts = [];
    let y = 4;
    const label = (text, h) => parts.push(`<text class="track-name" x="4" y="${y + h / 2 + 3}">${esc(text)}</text>`);
    const win = (cls, s, e, top, h, title, extra = "") => parts.push(
      `<rect class="${cls} window" data-t0="${s}" data-t1="${e}" x="${x(s)}" y="${top}" ` +
      `width="${Math.max(2, x(e) - x(s))}" height="${h}" ${extra}><title>${esc(title)}</title></rect>`);

    const step = niceStep(d);
    parts.push(`<g class="axis">`);
    for (let t = 0; t <= d + 1e-9; t += step) {
      parts.push(`<line x1="${x(t)}" x2="${x(t)}" y1="${y + 10}" y2="${y + 14}"/>` +
        `<text x="${x(t) - 6}" y="${y + 8}">${+t.toFixed(2)}</text>`);
    }
    parts.push(`</g>`);
    y += 20;

    label("ground truth", 12);
    q.gt.forEach(([s, e]) => win("gt", s, e, y, 12, `ground truth ${secs(s)}–${secs(e)}`));
    y += 18;

    const k = Math.max(1, q.pred.length);
    label("predictions", k * 8);
    q.pred.forEach(([s, e, c], r) => win("pred", s, e, y + r * 8, r ? 5 : 7,
      `#${r + 1} ${secs(s)}–${secs(e)} score ${c}`, `opacity="${(1 - 0.15 * r).toFixed(2)}"`));
    if (q.pred[0]) {
      const [s, e, c] = q.pred[0], right = x(e) + 90 < width;  // the label beside the bar, inside the frame
      const at = right ? x(e) + 3 : x(s) - 3, anchor = right ? "start" : "end";
      parts.push(`<text x="${at}" y="${y + 7}" text-anchor="${anchor}">#1 ${c}</text>`);
    }
    y += k * 8 + 8;

    const curves = Object.entries(q.curves);
    if (curves.length) {
      const h = 56;
      curves.forEach(([name, c], j) => parts.push(
        `<text x="${LEFT + j * 150}" y="${y + 9}" style="fill:${COLORS[j % COLORS.length]}">` +
        `${esc(name)} (max ${c.max})</text>`));
      y += 14;
      label("model curves", h);
      curves.forEach(([name, c], j) => {  // each curve scaled to its own maximum
        const n = c.v.length;
        const pts = c.v.map((v, i) =>  // snippet i covers [i, i + 1) * d / n: drawn at its centre
          `${x((i + 0.5) * d / n).toFixed(1)},${(y + h - (h * v) / CURVE_STEPS).toFixed(1)}`);
        const color = COLORS[j % COLORS.length];
        parts.push(`<polyline fill="none" stroke="${color}" stroke-width="1.5" points="${pts.join(" ")}"/>`);
      });
      y += h + 8;
    }

    for (const kind of DATA.kinds.video) {
      const items = video.priors[kind] || [];
      const spans = items.filter((it) => it[1] - it[0] > 1e-6), points = items.filter((it) => it[1] - it[0] <= 1e-6);
      const laneOf = lanes(spans, 4);
      const nLanes = Math.max(spans.length ? Math.max(...laneOf) + 1 : 0, points.length ? 1 : 0, 1);
      label(`${kind} (${items.length})`, nLanes * 14);
      spans.forEach((it, i) => {
        const top = y + laneOf[i] * 14, w = Math.max(2, x(it[1]) - x(it[0]));
        win(`span${it[3] ? "" : " err"}`, it[0], it[1], top, 12, `${secs(it[0])}–${secs(it[1])} ${it[2]}`);
        const chars = Math.floor((w - 4) / 5.5);
        if (chars > 3) {
          const text = it[2].length > chars ? it[2].slice(0, chars - 1) + "…" : it[2];
          parts.push(`<text x="${x(it[0]) + 2}" y="${top + 9}" pointer-events="none">${esc(text)}</text>`);
        }
      });
      points.forEach((it) => parts.push(
        `<line class="tick window${it[3] ? "" : " err"}" data-t0="${it[0]}" data-t1="${it[0]}" x1="${x(it[0])}" ` +
        `x2="${x(it[0])}" y1="${y}" y2="${y + 12}"><title>${esc(secs(it[0]) + " " + it[2])}</title></line>`));
      if (!items.length) parts.push(`<text x="${LEFT}" y="${y + 10}" class="track-name">none for this video</text>`);
      y += nLanes * 14 + 6;
    }
    const bands = q.gt.map(([s, e]) =>
      `<rect class="gt-band" x="${x(s)}" y="20" width="${Math.max(2, x(e) - x(s))}" height="${y - 20}"/>`);
    parts.unshift(...bands);  // the ground truth as a band behind every track
    parts.push(`<line id="playhead" class="playhead" x1="${LEFT}" x2="${LEFT}" y1="0" y2="${y}"/>`);
    svg.setAttribute("height", y);
    svg.setAttribute("viewBox", `0 0 ${width} ${y}`);
    svg.innerHTML = parts.join("");
    geometry = {x, t: (px) => Math.max(0, Math.min(d, ((px - LEFT) / (width - LEFT - RIGHT)) * d)), width};
    movePlayhead();
  }

  svg.addEventListener("click", (event) => {
    if (!geometry) return;
    const target = event.target.closest("[data-t0]");
    if (target) {  // a window: play it through; a point (a narrative): just go there
      const t0 = +target.dataset.t0, t1 = +target.dataset.t1;
      seek(t0, true, t1 > t0 ? t1 : null);
      return;
    }
    const box = svg.getBoundingClientRect();
    seek(geometry.t((event.clientX - box.left) * geometry.width / box.width));
  });

  // -- the priors' texts, aligned in time ---------------------------------------------------------------
  let timed = [];  // [{li, t0, t1, point}] of the selected video's lists, for the "now" highlight

  function renderPriors(q) {
    const video = DATA.videos[q.vid], blocks = [];
    for (const kind of DATA.kinds.video) {
      const items = video.priors[kind] || [];
      const li = (it) => `<li class="${it[3] ? "" : "err"}" data-t0="${it[0]}" data-t1="${it[1]}">` +
        `<span class="t">${it[1] - it[0] > 1e-6 ? `${secs(it[0])}–${secs(it[1])}` : secs(it[0])}</span>` +
        `${esc(it[2])}</li>`;
      const list = items.map(li).join("");
      blocks.push(`<div class="prior-list"><h3>${esc(kind)} (${items.length})</h3><ol>${list}</ol></div>`);
    }
    for (const kind of DATA.kinds.query) {
      const items = q.priors[kind] || [];
      const list = items.length ? items.map((it) => `<li class="${it[3] ? "" : "err"}">${esc(it[2])}</li>`).join("")
        : "<li>none</li>";
      const head = `<h3>${esc(kind)} of this query (${items.length})</h3>`;
      blocks.push(`<div class="prior-list">${head}<ol>${list}</ol></div>`);
    }
    $("#priors").innerHTML = blocks.join("") || "<p class='meta'>the manifest lists no priors for this video</p>";
    timed = Array.from(document.querySelectorAll("#priors li[data-t0]")).map((li) =>
      ({li, t0: +li.dataset.t0, t1: +li.dataset.t1, point: +li.dataset.t1 - +li.dataset.t0 <= 1e-6}));
  }

  $("#priors").addEventListener("click", (event) => {
    const li = event.target.closest("li[data-t0]");
    if (li) seek(+li.dataset.t0);
  });

  function movePlayhead() {
    const line = document.getElementById("playhead");
    if (!line || !geometry) return;
    const t = player.currentTime || 0, px = geometry.x(t);
    line.setAttribute("x1", px);
    line.setAttribute("x2", px);
    $("#clock").textContent = `${t.toFixed(2)} s`;
    let lastPoint = new Map();
    for (const item of timed) {
      const list = item.li.parentNode;
      if (item.point) {
        item.li.classList.remove("now");
        if (item.t0 <= t + 1e-6) lastPoint.set(list, item);
      } else {
        item.li.classList.toggle("now", item.t0 <= t && t < item.t1);
      }
    }
    for (const item of lastPoint.values()) item.li.classList.add("now");
  }

  // -- selecting a query -----------------------------------------------------------------------------------
  function select(i, move = true) {
    const q = DATA.queries[i];
    if (state.selected >= 0) rowEls[state.selected].classList.remove("selected");
    state.selected = i;
    rowEls[i].classList.add("selected");
    $("#empty").hidden = true;
    $("#sel").hidden = false;
    $("#sel-query").textContent = q.query;
    const verdict = q.iou === null ? "no ground truth"
      : `top-1 IoU ${q.iou.toFixed(3)} (${q.iou >= CORRECT ? "correct" : "wrong"} at ${CORRECT})`;
    $("#sel-meta").textContent = `${q.qid} · video ${q.vid} (${secs(DATA.videos[q.vid].duration)}) · ` +
      `split ${q.split} · ${verdict}`;
    loadVideo(q);
    const chip = (cls, s, e, text) => `<button class="chip ${cls}" data-t0="${s}" data-t1="${e}">${text}</button>`;
    const chips = q.gt.map(([s, e]) => chip("gt", s, e, `ground truth ${secs(s)}–${secs(e)}`))
      .concat(q.pred.map(([s, e, c], r) => chip("pred", s, e, `#${r + 1} ${secs(s)}–${secs(e)} · ${c}`)));
    $("#chips").innerHTML = chips.join("") + `<span class="clock" id="clock"></span>`;
    drawTimeline(q);
    renderPriors(q);
    const first = q.pred[0] || q.gt[0];
    if (first) seek(first[0]);  // the window: the top-1 prediction's start (the ground truth's when none)
    if (move) rowEls[i].scrollIntoView({block: "nearest"});
    history.replaceState(null, "", "#" + encodeURIComponent(q.qid));
  }

  $("#chips").addEventListener("click", (event) => {
    const chip = event.target.closest("[data-t0]");
    if (chip) seek(+chip.dataset.t0, true, +chip.dataset.t1);
  });

  rowsEl.addEventListener("click", (event) => {
    const row = event.target.closest(".row");
    if (row) select(+row.dataset.i, false);
  });

  document.addEventListener("keydown", (event) => {
    if (event.target.matches("input, select") || !state.visible.length) return;
    const step = {ArrowDown: 1, j: 1, ArrowUp: -1, k: -1}[event.key];
    if (!step) return;
    event.preventDefault();
    const at = state.visible.indexOf(state.selected);
    select(state.visible[Math.max(0, Math.min(state.visible.length - 1, at < 0 ? 0 : at + step))]);
  });

  // -- controls ----------------------------------------------------------------------------------------------
  for (const radio of document.querySelectorAll("input[name=filter]")) {
    radio.addEventListener("change", () => { state.filter = radio.value; applyView(); });
  }
  $("#sort").addEventListener("change", (event) => { state.sort = event.target.value; applyView(); });
  $("#split").addEventListener("change", (event) => { state.split = event.target.value; applyView(); });
  $("#search").addEventListener("input", (event) => {
    state.search = event.target.value.trim().toLowerCase();
    applyView();
  });
  let resizeTimer = 0;
  window.addEventListener("resize", () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => { if (state.selected >= 0) drawTimeline(DATA.queries[state.selected]); }, 100);
  });

  renderHeader();
  renderRows();
  applyView();
  const linked = decodeURIComponent(location.hash.slice(1));
  const byQid = DATA.queries.findIndex((q) => q.qid === linked);
  if (linked && byQid >= 0) select(byQid);
  window.reportRenderedAt = performance.now();  // ms since navigation start (bench/report.py reads it)
  window.reportReady = true;
})();
