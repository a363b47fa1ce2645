// edge-counter cameras page: live picture with lines and people, counts, the line editor, test mode.
// Plain JavaScript, no build step, nothing loaded from elsewhere. Canvas pixels are the camera's pixels:
// the canvas is as large as the camera's frame and CSS scales it, so every coordinate shown or saved is in
// the camera's pixels, whatever the size of the browser window.
"use strict";

const CSRF = document.querySelector('meta[name="csrf-token"]').content;
const POLL_MS = 1000;
const GRAB_PX = 12;           // screen pixels around an end point that grab it
const FLASH_US = 3e6;         // test mode: a crossed line flashes this long after the crossing (polled every second)
const COLOURS = {line: "#e53935", edit: "#ffeb3b", in: "#00c853", out: "#ff8c00", person: "#4fc3f7", flash: "#ffffff"};
const cards = new Map();

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c);
  return node;
}

function ago(us, nowUs) {
  if (us === null || us === undefined) return "never";
  const s = Math.max(0, (nowUs - us) / 1e6);
  if (s < 90) return `${s.toFixed(0)} s ago`;
  if (s < 5400) return `${(s / 60).toFixed(0)} min ago`;
  if (s < 172800) return `${(s / 3600).toFixed(0)} h ago`;
  return `${(s / 86400).toFixed(0)} days ago`;
}

function fmt(v, digits = 1) {
  return v === null || v === undefined ? "–" : Number(v).toFixed(digits);
}

function clockTime(us) {
  return new Date(us / 1000).toLocaleTimeString();
}

class Card {
  constructor(cam) {
    this.name = cam.name;
    this.cam = cam;
    this.image = null;
    this.frame = null;
    this.loading = false;
    this.edit = null;         // {lines: [{name, a: [x, y], b: [x, y]}], pending: [x, y] | null, drag, hover}
    this.test = null;         // {since_us, seen: Set of event keys}
    this.canvas = el("canvas", {class: "picture", width: cam.width || 640, height: cam.height || 360});
    this.status = el("span", {class: "status"});
    this.stats = el("dl", {class: "stats"});
    this.counts = el("table", {class: "counts"});
    this.editor = el("div", {class: "editor", hidden: ""});
    this.recent = el("div", {class: "recent", hidden: ""});
    this.editButton = el("button", {class: "edit", type: "button", onclick: () => this.startEdit()}, "Edit lines");
    this.testButton = el("button", {class: "test", type: "button", onclick: () => this.toggleTest()}, "Test mode");
    this.node = el("section", {class: "card camera", "data-camera": cam.name},
      el("h2", {}, cam.name, " ", this.status),
      el("div", {class: "frame"}, this.canvas),
      el("div", {class: "buttons"}, this.editButton, this.testButton),
      this.editor, this.recent, this.stats, this.counts);
    this.canvas.addEventListener("pointerdown", (e) => this.down(e));
    this.canvas.addEventListener("pointermove", (e) => this.move(e));
    this.canvas.addEventListener("pointerup", (e) => this.up(e));
    this.canvas.addEventListener("pointerleave", () => { if (this.edit) { this.edit.hover = null; this.renderEditor(); } });
  }

  // -- state from the box -----------------------------------------------------------------------------

  update(cam, nowUs) {
    this.cam = cam;
    this.nowUs = nowUs;
    if (cam.width && cam.height && (this.canvas.width !== cam.width || this.canvas.height !== cam.height)) {
      this.canvas.width = cam.width;
      this.canvas.height = cam.height;
    }
    this.status.textContent = cam.status;
    this.status.className = `status ${cam.status}`;
    const rows = [
      ["frames/s in", fmt(cam.fps_in)], ["frames/s processed", fmt(cam.fps_processed)],
      ["drops", `${cam.drops} (${fmt(100 * cam.drop_rate)}%)`], ["reconnects", cam.reconnects],
      ["last crossing", ago(cam.last_crossing_us, nowUs)],
    ];
    if (cam.error) rows.push(["error", cam.error]);
    this.stats.replaceChildren(...rows.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, String(v))]));
    this.counts.replaceChildren(
      el("caption", {}, "today"),
      el("tr", {}, el("th", {}, "line"), el("th", {class: "in"}, "in"), el("th", {class: "out"}, "out")),
      ...cam.lines.map((ln) => el("tr", {"data-line": ln.name}, el("td", {}, ln.name),
        el("td", {class: "in"}, String(cam.today[ln.name]?.in ?? 0)),
        el("td", {class: "out"}, String(cam.today[ln.name]?.out ?? 0)))));
    if (this.test) this.renderTest();
    if (cam.frame !== null && cam.frame !== this.frame && !this.loading) this.loadImage(cam.frame);
    this.draw();
  }

  loadImage(frame) {
    this.loading = true;
    const img = new Image();
    img.onload = () => { this.image = img; this.frame = frame; this.loading = false; this.draw(); };
    img.onerror = () => { this.loading = false; };
    img.src = `/api/cameras/${encodeURIComponent(this.name)}/frame.jpg?frame=${frame}`;
  }

  // -- drawing ----------------------------------------------------------------------------------------

  scale() {  // camera pixels per screen pixel
    const rect = this.canvas.getBoundingClientRect();
    return rect.width ? this.canvas.width / rect.width : 1;
  }

  draw() {
    const ctx = this.canvas.getContext("2d");
    const w = this.canvas.width, h = this.canvas.height;
    ctx.fillStyle = "#222";
    ctx.fillRect(0, 0, w, h);
    if (this.image) ctx.drawImage(this.image, 0, 0, w, h);
    const unit = Math.max(1, w / 480);
    ctx.lineWidth = 1.5 * unit;
    for (const p of this.cam.people || []) {
      const [x1, y1, x2, y2] = p.box;
      ctx.strokeStyle = COLOURS.person;
      ctx.strokeRect(x1, y1, x2 - x1, y2 - y1);
      ctx.fillStyle = COLOURS.person;
      ctx.beginPath();
      ctx.arc(p.foot[0], p.foot[1], 3 * unit, 0, 2 * Math.PI);
      ctx.fill();
    }
    const flashing = this.flashing();
    const lines = this.edit ? this.edit.lines : this.cam.lines;
    lines.forEach((ln, i) => this.drawLine(ctx, ln, unit, this.edit !== null, flashing.has(ln.name), i));
    if (this.edit && this.edit.pending) {
      ctx.fillStyle = COLOURS.edit;
      ctx.beginPath();
      ctx.arc(this.edit.pending[0], this.edit.pending[1], 5 * unit, 0, 2 * Math.PI);
      ctx.fill();
    }
  }

  drawLine(ctx, ln, unit, editing, flash, index) {
    const [ax, ay] = ln.a, [bx, by] = ln.b;
    const len = Math.hypot(bx - ax, by - ay);
    ctx.lineWidth = (flash ? 5 : 2.5) * unit;
    ctx.strokeStyle = flash ? COLOURS.flash : (editing ? COLOURS.edit : COLOURS.line);
    ctx.beginPath();
    ctx.moveTo(ax, ay);
    ctx.lineTo(bx, by);
    ctx.stroke();
    if (len > 0) {
      const nx = -(by - ay) / len, ny = (bx - ax) / len;     // unit normal towards the "in" (right-hand) side
      const mx = (ax + bx) / 2, my = (ay + by) / 2;
      const arrow = Math.max(14 * unit, 0.07 * Math.max(this.canvas.width, this.canvas.height));
      for (const [sign, colour, word] of [[1, COLOURS.in, "in"], [-1, COLOURS.out, "out"]]) {
        const tx = mx + sign * nx * arrow, ty = my + sign * ny * arrow;
        this.arrow(ctx, mx, my, tx, ty, colour, unit);
        this.label(ctx, word, tx + sign * nx * 8 * unit, ty + sign * ny * 8 * unit, colour, unit);
      }
      this.label(ctx, ln.name, ax + (bx - ax) * 0.2, ay + (by - ay) * 0.2 - 8 * unit, COLOURS.line, unit);
    }
    for (const [[x, y], end] of [[ln.a, "A"], [ln.b, "B"]]) {
      ctx.fillStyle = editing ? COLOURS.edit : COLOURS.line;
      ctx.beginPath();
      ctx.arc(x, y, (editing ? 6 : 3.5) * unit, 0, 2 * Math.PI);
      ctx.fill();
      if (editing) this.label(ctx, `${end}${index + 1}`, x + 8 * unit, y - 8 * unit, COLOURS.edit, unit);
    }
  }

  arrow(ctx, x0, y0, x1, y1, colour, unit) {
    const angle = Math.atan2(y1 - y0, x1 - x0), head = 7 * unit;
    ctx.strokeStyle = ctx.fillStyle = colour;
    ctx.lineWidth = 2.5 * unit;
    ctx.beginPath();
    ctx.moveTo(x0, y0);
    ctx.lineTo(x1, y1);
    ctx.stroke();
    ctx.beginPath();
    ctx.moveTo(x1, y1);
    ctx.lineTo(x1 - head * Math.cos(angle - 0.45), y1 - head * Math.sin(angle - 0.45));
    ctx.lineTo(x1 - head * Math.cos(angle + 0.45), y1 - head * Math.sin(angle + 0.45));
    ctx.closePath();
    ctx.fill();
  }

  label(ctx, text, x, y, colour, unit) {
    ctx.font = `bold ${Math.round(12 * unit)}px sans-serif`;
    ctx.textAlign = "center";
    ctx.textBaseline = "middle";
    ctx.lineWidth = 3 * unit;
    ctx.strokeStyle = "#000";
    ctx.strokeText(text, x, y);
    ctx.fillStyle = colour;
    ctx.fillText(text, x, y);
  }

  // -- line editor ------------------------------------------------------------------------------------

  startEdit() {
    this.edit = {lines: this.cam.lines.map((ln) => ({name: ln.name, a: [...ln.a], b: [...ln.b]})),
                 pending: null, drag: null, hover: null, message: "", error: false};
    this.editButton.disabled = true;
    this.editor.hidden = false;
    this.renderEditor();
    this.draw();
  }

  stopEdit() {
    this.edit = null;
    this.editButton.disabled = false;
    this.editor.hidden = true;
    this.canvas.style.cursor = "";
    this.draw();
  }

  point(e) {  // the pointer in camera pixels, inside the frame
    const rect = this.canvas.getBoundingClientRect();
    const s = this.canvas.width / rect.width;
    const x = Math.min(this.canvas.width, Math.max(0, (e.clientX - rect.left) * s));
    const y = Math.min(this.canvas.height, Math.max(0, (e.clientY - rect.top) * this.canvas.height / rect.height));
    return [Math.round(x), Math.round(y)];
  }

  endAt(p) {  // the end point under the pointer: {i, end} or null
    const reach = GRAB_PX * this.scale();
    let best = null, bestD = reach;
    this.edit.lines.forEach((ln, i) => {
      for (const end of ["a", "b"]) {
        const d = Math.hypot(ln[end][0] - p[0], ln[end][1] - p[1]);
        if (d <= bestD) { best = {i, end}; bestD = d; }
      }
    });
    return best;
  }

  down(e) {
    if (!this.edit) return;
    e.preventDefault();
    const p = this.point(e);
    const grab = this.endAt(p);
    if (grab) {
      this.edit.drag = grab;
      this.canvas.setPointerCapture(e.pointerId);
    } else if (!this.edit.pending) {
      this.edit.pending = p;
    } else {
      this.edit.lines.push({name: this.newName(), a: this.edit.pending, b: p});
      this.edit.pending = null;
    }
    this.renderEditor();
    this.draw();
  }

  move(e) {
    if (!this.edit) return;
    const p = this.point(e);
    this.edit.hover = p;
    if (this.edit.drag) {
      const {i, end} = this.edit.drag;
      this.edit.lines[i][end] = p;
      this.draw();
    }
    this.canvas.style.cursor = this.edit.drag || this.endAt(p) ? "grab" : "crosshair";
    this.renderCoords();
  }

  up(e) {
    if (this.edit && this.edit.drag) {
      this.edit.drag = null;
      this.canvas.releasePointerCapture(e.pointerId);
      this.renderEditor();
    }
  }

  newName() {
    const names = new Set(this.edit.lines.map((ln) => ln.name));
    let n = this.edit.lines.length + 1;
    while (names.has(`line${n}`)) n += 1;
    return `line${n}`;
  }

  renderCoords() {
    this.edit.lines.forEach((ln, i) => {
      const span = this.editor.querySelector(`[data-index="${i}"] .coords`);
      if (span) span.textContent = `A ${ln.a[0]},${ln.a[1]} → B ${ln.b[0]},${ln.b[1]}`;
    });
    const where = this.editor.querySelector(".pointer");
    if (where) where.textContent = this.edit.hover ? `pointer at ${this.edit.hover[0]},${this.edit.hover[1]}` : "";
  }

  renderEditor() {
    const ed = this.edit;
    const rows = ed.lines.map((ln, i) => el("li", {class: "line-row", "data-index": String(i)},
      el("input", {class: "name", value: ln.name, "aria-label": "line name", maxlength: "64",
                   oninput: (e) => { ln.name = e.target.value; this.draw(); }}),
      el("span", {class: "coords"}),
      el("button", {type: "button", class: "flip", title: "swap A and B: in and out change places",
                    onclick: () => { [ln.a, ln.b] = [ln.b, ln.a]; this.renderEditor(); this.draw(); }}, "Flip"),
      el("button", {type: "button", class: "delete",
                    onclick: () => { ed.lines.splice(i, 1); this.renderEditor(); this.draw(); }}, "Delete")));
    const hint = ed.pending ? "click the second point (B) of the new line"
                            : "click two points on the picture for a new line, or drag an end point";
    this.editor.replaceChildren(
      el("p", {class: "muted"}, hint, " ", el("span", {class: "pointer"})),
      el("ol", {class: "lines"}, ...rows),
      el("div", {class: "buttons"},
        el("button", {type: "button", class: "save", onclick: () => this.save()}, "Save"),
        el("button", {type: "button", class: "cancel", onclick: () => this.stopEdit()}, "Cancel")),
      el("p", {class: ed.error ? "message error" : "message"}, ed.message));
    this.renderCoords();
  }

  async save() {
    const ed = this.edit;
    ed.message = "saving…";
    ed.error = false;
    this.renderEditor();
    let response, text;
    try {
      response = await fetch(`/api/cameras/${encodeURIComponent(this.name)}/lines`, {
        method: "PUT", headers: {"Content-Type": "application/json", "X-CSRF-Token": CSRF},
        body: JSON.stringify({lines: ed.lines}), credentials: "same-origin"});
      text = await response.text();
    } catch (err) {
      ed.message = `not saved: the box did not answer (${err})`;
      ed.error = true;
      this.renderEditor();
      return;
    }
    if (response.status === 401) { window.location = "/login"; return; }
    if (!response.ok) {
      ed.message = `not saved: ${text}`;
      ed.error = true;
      this.renderEditor();
      return;
    }
    const saved = JSON.parse(text);
    this.cam.lines = saved.lines;
    this.stopEdit();
    this.counts.before(el("p", {class: "message saved"}, `saved to ${saved.saved}, counting on these lines since ${clockTime(saved.effective_us)}`));
  }

  // -- test mode --------------------------------------------------------------------------------------

  toggleTest() {
    if (this.test) {
      this.test = null;
      this.recent.hidden = true;
      this.testButton.classList.remove("on");
    } else {
      this.test = {since_us: this.nowUs || Date.now() * 1000};
      this.recent.hidden = false;
      this.testButton.classList.add("on");
      this.renderTest();
    }
  }

  flashing() {  // lines crossed in the last few seconds, in test mode
    if (!this.test || !this.nowUs) return new Set();
    return new Set((this.cam.recent || []).filter((e) => this.nowUs - e.ts_us < FLASH_US).map((e) => e.line));
  }

  renderTest() {
    const events = (this.cam.recent || []).filter((e) => e.ts_us >= this.test.since_us).reverse();
    const totals = {};
    for (const e of events) totals[`${e.line} ${e.direction}`] = (totals[`${e.line} ${e.direction}`] || 0) + 1;
    this.recent.replaceChildren(
      el("h3", {}, `Test mode: crossings since ${clockTime(this.test.since_us)}`),
      el("p", {}, Object.keys(totals).length ? Object.entries(totals).map(([k, n]) => `${k}: ${n}`).join(", ")
                                            : "none yet: walk over a line"),
      el("ol", {class: "events"}, ...events.map((e) => el("li", {class: e.direction},
        `${clockTime(e.ts_us)} ${e.line} ${e.direction} (person ${e.track_id})`))));
  }
}

async function poll() {
  try {
    const response = await fetch("/api/state", {credentials: "same-origin"});
    if (response.status === 401) { window.location = "/login"; return; }
    if (response.ok) {
      const state = await response.json();
      const main = document.getElementById("cameras");
      if (!cards.size) main.replaceChildren();
      for (const cam of state.cameras) {
        if (!cards.has(cam.name)) {
          const card = new Card(cam);
          cards.set(cam.name, card);
          main.append(card.node);
        }
        cards.get(cam.name).update(cam, state.now_us);
      }
    }
  } catch (err) {
    // the box restarting: try again at the next tick
  }
  setTimeout(poll, POLL_MS);
}

poll();
