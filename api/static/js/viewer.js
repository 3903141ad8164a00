// The two-pane sagittal viewer: T1 left, T2 (or STIR) right, with synchronised slice scrolling,
// window/level, zoom and pan. Slices are PNGs from GET /series/{id}/slices/{n}.png, fetched with
// the bearer token and shown through object URLs.

import { fetchImageUrl, get } from "./api.js";
import { nearestSlice, sliceCentre, slicePosition, toPatient, toPixel } from "./geometry.js";
import { Overlay, svg } from "./overlay.js";
import { loadViewSettings, saveViewSettings } from "./settings.js";

// Window/level is previewed at once in the browser (an SVG transfer function over the shown PNG)
// and, when the series' default window is known (GET /series/{id}), the slice is then fetched
// again rendered by the server at that window (?wc=&ww=), at the full bit depth of the image.

// Window presets, relative to the series' default window: `c` shifts the level by a fraction of
// the default width, `w` scales the width. Low-field images are noisy: the wide preset calms the
// noise, the narrow one separates marrow signal changes.
export const PRESETS = [
  { id: "default", label: "Series default", c: 0, w: 1 },
  { id: "contrast", label: "More contrast (narrow)", c: 0, w: 0.6 },
  { id: "soft", label: "Wide (calmer noise)", c: 0, w: 1.5 },
  { id: "bright", label: "Brighter", c: -0.15, w: 1 },
  { id: "dark", label: "Darker", c: 0.15, w: 1 },
];

// Gaussian blur (CSS px on the unzoomed image) of "Smooth noise": about half a pixel of a 256-matrix
// slice shown at twice its size, enough to calm Rician noise at SNR 4-9 without hiding endplates.
const SMOOTH_SIGMA = 0.8;
const MIN_ZOOM = 0.5;
const MAX_ZOOM = 8;
// One wheel notch is one slice; small trackpad deltas add up to a notch.
const WHEEL_STEP = 50;

class Pane {
  constructor(element, filterId) {
    this.element = element;
    this.stage = element.querySelector(".stage");
    this.img = element.querySelector("img.slice");
    this.note = element.querySelector(".pane-note");
    this.pos = element.querySelector(".slice-pos");
    this.mm = element.querySelector(".slice-mm");
    this.wl = element.querySelector(".wl");
    this.title = element.querySelector(".pane-title");
    this.seriesLabel = element.querySelector(".pane-series");
    // The pane's SVG filter: a blur ("Smooth noise") and a linear transfer of R, G and B that shows a
    // window in the browser until the server's rendering arrives.
    this.filterId = filterId;
    this.blur = svg("feGaussianBlur", { stdDeviation: 0 });
    this.transferFunctions = ["feFuncR", "feFuncG", "feFuncB"].map((tag) =>
      svg(tag, { type: "linear", slope: 1, intercept: 0 }),
    );
    const transfer = svg("feComponentTransfer");
    transfer.append(...this.transferFunctions);
    const filter = svg("filter", { id: filterId, "color-interpolation-filters": "sRGB" });
    filter.append(this.blur, transfer);
    document.querySelector("svg.filters").append(filter);
    this.smooth = false;
    this.series = null;
    this.index = 0;
    this.window = { c: 0, w: 1 };
    this.rendered = { c: 0, w: 1 };
    this.defaultWindow = null;
    this.requestedImage = null;
    this.overlay = new Overlay(this);
  }

  get geometry() {
    return this.series?.geometry ?? null;
  }

  // The patient-space point of display pixel (x, y) of the shown slice, or null without geometry.
  patientPoint(x, y) {
    return this.geometry ? toPatient(this.geometry.slices[this.index], x, y) : null;
  }

  // Display pixel (x, y) of a patient-space point projected on the shown slice (off: mm from it).
  pixelOf(point) {
    return this.geometry ? toPixel(this.geometry.slices[this.index], point) : null;
  }

  setSeries(series, label, emptyNote = `No sagittal ${label} series in this study.`) {
    this.series = series;
    this.requestedImage = null;
    this.rendered = { c: 0, w: 1 };
    this.defaultWindow = series?.window ?? null;
    this.title.textContent = label;
    this.seriesLabel.textContent = series ? `${series.description || "(no description)"} · ${series.slices} slices` : "";
    this.img.hidden = true;
    this.img.removeAttribute("src");
    delete this.img.dataset.slice;
    delete this.img.dataset.window;
    this.stage.setAttribute(
      "aria-label",
      `Sagittal ${label} image. Arrow keys or wheel: slice; drag: window/level; shift-drag: pan`,
    );
    this.img.alt = `Sagittal ${label} slice`;
    this.mm.textContent = "";
    if (!series) {
      this.setState("empty", emptyNote);
      this.pos.textContent = "–";
    }
  }

  setState(state, note = "") {
    this.element.dataset.state = state;
    this.note.textContent = note;
    this.note.hidden = !note;
  }

  // The server window (wc, ww) of a relative window, or null for the series default.
  serverWindow(window = this.window) {
    const { c, w } = window;
    if (!this.defaultWindow || (Math.abs(c) < 1e-6 && Math.abs(w - 1) < 1e-6)) return null;
    const { center, width } = this.defaultWindow;
    return { wc: +(center + c * width).toFixed(2), ww: +(width * w).toFixed(2) };
  }

  // Maps the shown image, rendered at window `rendered`, to the requested window: a linear
  // transfer function in the browser until the server's rendering arrives.
  applyWindow() {
    const { c, w } = this.window;
    const { c: rc, w: rw } = this.rendered;
    const slope = rw / w;
    const intercept = (rc - rw / 2 - c + w / 2) / w;
    for (const func of this.transferFunctions) {
      func.setAttribute("slope", slope.toFixed(4));
      func.setAttribute("intercept", intercept.toFixed(4));
    }
    const identity = Math.abs(slope - 1) < 1e-4 && Math.abs(intercept) < 1e-4;
    this.blur.setAttribute("stdDeviation", this.smooth ? String(SMOOTH_SIGMA) : "0");
    this.img.style.filter = identity && !this.smooth ? "none" : `url(#${this.filterId})`;
    const server = this.serverWindow();
    if (Math.abs(c) < 1e-6 && Math.abs(w - 1) < 1e-6) this.wl.textContent = "default window";
    else if (server) this.wl.textContent = `W ${Math.round(server.ww)} L ${Math.round(server.wc)}`;
    else this.wl.textContent = `width ×${w.toFixed(2)}, level ${c >= 0 ? "+" : ""}${c.toFixed(2)}`;
  }
}

export class Viewer {
  constructor(root) {
    this.root = root;
    this.panes = {
      t1: new Pane(root.querySelector("#pane-t1"), "wl-filter-t1"),
      t2: new Pane(root.querySelector("#pane-t2"), "wl-filter-t2"),
    };
    this.presetSelect = root.querySelector("#preset-select");
    this.zoomLabel = root.querySelector("#zoom-level");
    this.stirToggle = root.querySelector("#stir-toggle");
    this.smoothToggle = root.querySelector("#smooth-toggle");
    this.cache = new Map();
    this.sliceUrls = new Map();
    // The shown slice, counted in the reference pane (the one with most slices); the other pane follows.
    this.referenceSlice = 0;
    this.zoom = 1;
    this.pan = { x: 0, y: 0 };
    this.study = null;
    // Counts the studies opened and closed: an answer that arrives for an earlier one is dropped.
    this.openSerial = 0;
    this.wheelAccumulator = 0;
    this.linked = null;
    this.prefetched = null;
    this.tool = null;
    this.onOverlay = () => {};
    this.overlayFrame = null;
    this.onImageClick = () => {};
    this.onFirstImages = () => {};
    for (const preset of [...PRESETS, { id: "custom", label: "Custom (dragged)" }]) {
      const option = document.createElement("option");
      option.value = preset.id;
      option.textContent = preset.label;
      option.disabled = preset.id === "custom";
      this.presetSelect.append(option);
    }
    this.presetSelect.addEventListener("change", () => this.applyPreset(this.presetSelect.value));
    root.querySelector("#zoom-in").addEventListener("click", () => this.zoomBy(1.25));
    root.querySelector("#zoom-out").addEventListener("click", () => this.zoomBy(0.8));
    root.querySelector("#reset-view").addEventListener("click", () => this.reset());
    this.stirToggle.addEventListener("click", () => this.toggleStir());
    this.smoothToggle.addEventListener("click", () => this.toggleSmooth());
    for (const pane of Object.values(this.panes)) this.bindPane(pane);
    this.restoreSettings();
  }

  // Opens a study: the grading series, the middle slice first (where the discs are judged).
  open(study) {
    this.close();
    this.study = study;
    this.sliceUrls = new Map(study.series.filter((s) => s.sliceUrl).map((s) => [s.id, s.sliceUrl]));
    const byId = new Map(study.series.map((s) => [s.id, s]));
    this.t2Series = byId.get(study.grading_series?.t2) ?? null;
    this.stirSeries = byId.get(study.grading_series?.stir) ?? null;
    const noImages = study.series.length ? undefined : "No images are stored for this study: read it in your hospital's viewer.";
    this.panes.t1.setSeries(byId.get(study.grading_series?.t1) ?? null, "T1", noImages);
    this.panes.t2.setSeries(this.t2Series, "T2", noImages);
    this.stirToggle.hidden = !this.stirSeries;
    this.stirToggle.setAttribute("aria-pressed", "false");
    this.stirToggle.textContent = "Show STIR instead of T2";
    this.fluidShown = new Set(this.t2Series ? ["T2"] : []);
    this.referenceSlice = Math.floor((this.referenceSliceCount() - 1) / 2);
    this.linked = null;
    this.applyTransform();
    for (const pane of Object.values(this.panes)) pane.applyWindow();
    this.render();
  }

  // The default windows and geometry of the shown series (server-rendered window/level, slices
  // by position, the crosshair), in the background once the first images are shown.
  async loadWindows(openSerial) {
    const withoutInfo = [this.panes.t1.series, this.t2Series, this.stirSeries].filter((s) => s && !("window" in s));
    const infos = await Promise.all(
      withoutInfo.map((s) => get(`/series/${encodeURIComponent(s.id)}`).then((r) => r.body, () => null)),
    );
    if (openSerial !== this.openSerial) return;
    infos.forEach((info, i) => {
      withoutInfo[i].window = info?.window ?? null;
      withoutInfo[i].geometry = info?.geometry ?? null;
    });
    for (const pane of Object.values(this.panes)) {
      if (pane.series) pane.defaultWindow = pane.series.window ?? null;
    }
    // with the geometry known, the slices follow by position and the window at its true units
    this.render();
  }

  close() {
    this.openSerial += 1;
    for (const entry of this.cache.values()) entry.then((r) => URL.revokeObjectURL(r.url), () => {});
    this.cache.clear();
    this.study = null;
  }

  referenceSliceCount() {
    return Math.max(1, ...Object.values(this.panes).map((p) => p.series?.slices ?? 0));
  }

  // The pane whose slices the reference slice counts: the one with most slices.
  referencePane() {
    const panes = Object.values(this.panes).filter((p) => p.series);
    return panes.reduce((a, b) => (b.series.slices > a.series.slices ? b : a), panes[0]);
  }

  // A pane's slice: the reference slice itself, the one a linked cursor chose, or the one nearest in position
  // to the reference slice (by slice index when a geometry is missing).
  indexFor(pane) {
    if (this.linked?.pane === pane) return this.linked.index;
    const reference = this.referencePane();
    if (pane !== reference && pane.geometry && reference?.geometry) {
      return nearestSlice(pane.geometry, sliceCentre(reference.geometry, this.referenceSlice));
    }
    const total = this.referenceSliceCount();
    const n = pane.series.slices;
    return total <= 1 || n <= 1 ? 0 : Math.round((this.referenceSlice * (n - 1)) / (total - 1));
  }

  step(delta) {
    if (!this.study) return;
    const next = Math.min(this.referenceSliceCount() - 1, Math.max(0, this.referenceSlice + delta));
    if (next !== this.referenceSlice || this.linked) {
      this.referenceSlice = next;
      this.linked = null;
      this.render();
    }
  }

  render() {
    for (const pane of Object.values(this.panes)) {
      if (!pane.series) continue;
      const index = this.indexFor(pane);
      pane.index = index;
      pane.pos.textContent = `${pane.index + 1} / ${pane.series.slices}`;
      pane.mm.textContent = pane.geometry ? slicePosition(pane.geometry, index) : "";
      if (pane.requestedImage !== this.imageKey(pane) || pane.element.dataset.state === "error") this.show(pane);
    }
    this.drawOverlays();
  }

  // Stage (CSS px) coordinates of display pixel (x, y) of a pane's image: object-fit contain,
  // then the zoom about the stage centre and the pan.
  stagePoint(pane, x, y) {
    const { width: sw, height: sh } = pane.stage.getBoundingClientRect();
    const w = pane.geometry?.width ?? pane.img.naturalWidth;
    const h = pane.geometry?.height ?? pane.img.naturalHeight;
    const scale = Math.min(sw / w, sh / h);
    const u = (sw - w * scale) / 2 + (x + 0.5) * scale;
    const v = (sh - h * scale) / 2 + (y + 0.5) * scale;
    return { x: sw / 2 + (u - sw / 2) * this.zoom + this.pan.x, y: sh / 2 + (v - sh / 2) * this.zoom + this.pan.y };
  }

  // Display pixel (x, y) under a pointer event on a pane (the inverse of stagePoint).
  imagePoint(pane, event) {
    const rect = pane.stage.getBoundingClientRect();
    const origin = this.stagePoint(pane, 0, 0);
    const one = this.stagePoint(pane, 1, 1);
    return {
      x: (event.clientX - rect.left - origin.x) / (one.x - origin.x),
      y: (event.clientY - rect.top - origin.y) / (one.y - origin.y),
    };
  }

  // Overlays are redrawn once per frame however often they are asked for (layout is read to draw them).
  drawOverlays() {
    if (this.overlayFrame) return;
    this.overlayFrame = requestAnimationFrame(() => {
      this.overlayFrame = null;
      this.paintOverlays();
    });
  }

  paintOverlays() {
    for (const pane of Object.values(this.panes)) {
      if (!pane.series) {
        pane.overlay.drawFrame(null);
        continue;
      }
      pane.overlay.drawFrame(pane.geometry, pane.index, (x, y) => this.stagePoint(pane, x, y), this.zoom);
    }
    this.onOverlay();
  }

  // The linked cursor: the point under the pointer on one pane, shown on the other pane's slice
  // nearest to it in position.
  linkCursor(pane, event) {
    const other = pane === this.panes.t1 ? this.panes.t2 : this.panes.t1;
    const { x, y } = this.imagePoint(pane, event);
    const point = pane.patientPoint(x, y);
    if (!point || !other.geometry) return;
    const index = nearestSlice(other.geometry, point);
    if (index !== other.index) {
      this.linked = { pane: other, index };
      this.render();
    }
    const pixel = other.pixelOf(point);
    other.overlay.drawCrosshair(this.stagePoint(other, pixel.x, pixel.y), pixel);
    pane.overlay.drawCrosshair(null);
  }

  // A series is either a registry series (slices at /series/{id}/slices/{n}.png) or a blinded
  // case stack that carries its own `sliceUrl` template ("…/slices/{n}.png").
  slice(seriesId, n, server = null) {
    const query = server ? `?wc=${server.wc}&ww=${server.ww}` : "";
    const key = `${seriesId}/${n}${query}`;
    const prefetched = this.prefetched?.take(key);
    if (prefetched && !this.cache.has(key)) this.cache.set(key, prefetched);
    if (!this.cache.has(key)) {
      const template = this.sliceUrls.get(seriesId);
      const path = template ? template.replace("{n}", String(n)) : `/series/${encodeURIComponent(seriesId)}/slices/${n}.png`;
      const pending = fetchImageUrl(path + query);
      pending.catch(() => this.cache.delete(key));
      this.cache.set(key, pending);
    }
    return this.cache.get(key);
  }

  cached(seriesId, n, server = null) {
    const key = `${seriesId}/${n}${server ? `?wc=${server.wc}&ww=${server.ww}` : ""}`;
    return this.cache.has(key) || Boolean(this.prefetched?.has(key));
  }

  // Shows the pane's current slice at its current window: at once from the default rendering when
  // that is at hand (previewed through the filter), then as rendered by the server.
  imageKey(pane, server = pane.serverWindow()) {
    return `${pane.series.id}/${pane.index}/${server ? `${server.wc}/${server.ww}` : "default"}`;
  }

  async show(pane) {
    const openSerial = this.openSerial;
    const index = pane.index;
    const window = { ...pane.window };
    const server = pane.serverWindow(window);
    const requested = this.imageKey(pane, server);
    pane.requestedImage = requested;
    const current = () => pane.requestedImage === requested && openSerial === this.openSerial;
    if (pane.img.hidden) pane.setState("loading", "Loading…");
    if (server && !this.cached(pane.series.id, index, server) && this.cached(pane.series.id, index)) {
      try {
        const preview = await this.slice(pane.series.id, index);
        if (current()) await this.display(pane, preview.url, index, { c: 0, w: 1 }, null);
      } catch {
        // the server's rendering below reports the problem
      }
    }
    let result;
    try {
      result = await this.slice(pane.series.id, index, server);
    } catch (error) {
      if (!current()) return;
      pane.img.hidden = true;
      pane.setState("error", `Slice ${index + 1} could not be loaded: ${error.message}`);
      return;
    }
    if (!current()) return;
    if (await this.display(pane, result.url, index, server ? window : { c: 0, w: 1 }, server)) {
      if (current()) this.markFirstImages(openSerial);
    }
  }

  async display(pane, url, index, rendered, server) {
    pane.img.src = url;
    try {
      await pane.img.decode();
    } catch {
      pane.setState("error", `Slice ${index + 1} is not a readable image.`);
      return false;
    }
    pane.rendered = rendered;
    pane.applyWindow();
    pane.img.hidden = false;
    pane.img.dataset.slice = String(index);
    pane.img.dataset.window = server ? `${server.wc}/${server.ww}` : "default";
    pane.setState("ready");
    this.drawOverlays();
    return true;
  }

  // A performance mark when the first images of a study are all decoded (read by bench/bench_web.py).
  markFirstImages(openSerial) {
    if (this.marked === openSerial) return;
    const panes = Object.values(this.panes).filter((p) => p.series);
    if (panes.length && panes.every((p) => p.element.dataset.state === "ready")) {
      this.marked = openSerial;
      performance.mark("modic:first-images");
      this.onFirstImages(this.study);
      this.loadWindows(openSerial).then(() => this.prefetch());
    }
  }

  // Loads every slice of the shown series in the background, nearest to the middle first; it starts
  // once the first images are shown so that it does not compete with them.
  async prefetch() {
    const openSerial = this.openSerial;
    const jobs = [];
    for (const series of [this.panes.t1.series, this.t2Series, this.stirSeries]) {
      if (!series) continue;
      for (let n = 0; n < series.slices; n += 1) jobs.push({ series, n });
    }
    const centre = (job) => Math.abs(job.n - Math.floor((job.series.slices - 1) / 2));
    jobs.sort((a, b) => centre(a) - centre(b));
    const worker = async () => {
      while (jobs.length && openSerial === this.openSerial) {
        const job = jobs.shift();
        try {
          await this.slice(job.series.id, job.n);
        } catch {
          // an unreadable slice is reported when it is shown
        }
      }
    };
    await Promise.all([worker(), worker()]);
  }

  // The fluid-sensitive series shown beside T1 since the study opened: "T2", "STIR", "T2+STIR" or null.
  seriesViewed() {
    const shown = ["T2", "STIR"].filter((w) => this.fluidShown?.has(w));
    return shown.length ? shown.join("+") : null;
  }

  toggleStir() {
    const showingStir = this.stirToggle.getAttribute("aria-pressed") === "true";
    const pane = this.panes.t2;
    pane.setSeries(showingStir ? this.t2Series : this.stirSeries, showingStir ? "T2" : "STIR");
    this.fluidShown.add(showingStir ? "T2" : "STIR");
    this.stirToggle.setAttribute("aria-pressed", String(!showingStir));
    this.stirToggle.textContent = showingStir ? "Show STIR instead of T2" : "Show T2 again";
    this.applyTransform();
    this.render();
  }

  toggleSmooth() {
    const smooth = this.smoothToggle.getAttribute("aria-pressed") !== "true";
    this.smoothToggle.setAttribute("aria-pressed", String(smooth));
    for (const pane of Object.values(this.panes)) {
      pane.smooth = smooth;
      pane.applyWindow();
    }
    this.saveSettings();
  }

  // Zoom, pan, window and "smooth noise" stay as the radiologist left them, across studies.
  saveSettings() {
    saveViewSettings({
      zoom: this.zoom,
      pan: this.pan,
      preset: this.presetSelect.value,
      window: this.panes.t1.window,
      smooth: this.smoothToggle.getAttribute("aria-pressed") === "true",
    });
  }

  restoreSettings() {
    const saved = loadViewSettings();
    if (!saved) return;
    this.zoom = Math.min(MAX_ZOOM, Math.max(MIN_ZOOM, saved.zoom));
    this.pan = saved.pan;
    this.presetSelect.value = saved.preset;
    this.smoothToggle.setAttribute("aria-pressed", String(saved.smooth));
    for (const pane of Object.values(this.panes)) {
      pane.window = { ...saved.window };
      pane.smooth = saved.smooth;
    }
  }

  applyPreset(id, { refresh = true } = {}) {
    const preset = PRESETS.find((p) => p.id === id) ?? PRESETS[0];
    for (const pane of Object.values(this.panes)) {
      pane.window = { c: preset.c, w: preset.w };
      pane.applyWindow();
    }
    this.saveSettings();
    if (refresh && this.study) this.render();
  }

  reset({ refresh = true } = {}) {
    this.zoom = 1;
    this.pan = { x: 0, y: 0 };
    this.presetSelect.value = "default";
    this.applyPreset("default", { refresh });
    this.applyTransform();
    this.saveSettings();
  }

  zoomBy(factor) {
    this.zoom = Math.min(MAX_ZOOM, Math.max(MIN_ZOOM, this.zoom * factor));
    this.applyTransform();
    this.saveSettings();
  }

  applyTransform() {
    const transform = `translate(${this.pan.x}px, ${this.pan.y}px) scale(${this.zoom})`;
    for (const pane of Object.values(this.panes)) pane.img.style.transform = transform;
    this.zoomLabel.textContent = `${Math.round(this.zoom * 100)}%`;
    if (this.study) this.drawOverlays();
  }

  // Keys handled on an image, and PageUp/PageDown from anywhere on the study page.
  handleKey(event, { anywhere = false } = {}) {
    const steps = anywhere
      ? { PageUp: -1, PageDown: 1 }
      : { ArrowUp: -1, ArrowLeft: -1, ArrowDown: 1, ArrowRight: 1, PageUp: -1, PageDown: 1 };
    if (event.key in steps) {
      this.step(steps[event.key]);
      return true;
    }
    if (anywhere) return false;
    if (event.key === "+" || event.key === "=") this.zoomBy(1.25);
    else if (event.key === "-") this.zoomBy(0.8);
    else if (event.key === "r" || event.key === "R") this.reset();
    else if (event.key === "Home") this.step(-this.referenceSliceCount());
    else if (event.key === "End") this.step(this.referenceSliceCount());
    else return false;
    return true;
  }

  bindPane(pane) {
    pane.stage.addEventListener("keydown", (event) => {
      if (event.altKey || event.ctrlKey || event.metaKey) return;
      if (this.handleKey(event)) event.preventDefault();
    });
    pane.stage.addEventListener(
      "wheel",
      (event) => {
        event.preventDefault();
        if (event.ctrlKey) {
          this.zoomBy(event.deltaY < 0 ? 1.1 : 1 / 1.1);
          return;
        }
        const delta = event.deltaMode === 0 ? event.deltaY : event.deltaY * WHEEL_STEP;
        if (Math.abs(delta) >= WHEEL_STEP) {
          this.wheelAccumulator = 0;
          this.step(Math.sign(delta));
          return;
        }
        this.wheelAccumulator += delta;
        if (Math.abs(this.wheelAccumulator) >= WHEEL_STEP) {
          this.step(Math.sign(this.wheelAccumulator));
          this.wheelAccumulator = 0;
        }
      },
      { passive: false },
    );
    pane.stage.addEventListener("pointermove", (event) => {
      if (event.buttons === 0 && pane.series && pane.img.dataset.slice !== undefined) this.linkCursor(pane, event);
    });
    pane.stage.addEventListener("pointerleave", () => {
      for (const p of Object.values(this.panes)) p.overlay.drawCrosshair(null);
    });
    pane.stage.addEventListener("pointerdown", (event) => {
      if (!pane.series || (event.button !== 0 && event.button !== 1)) return;
      event.preventDefault();
      pane.stage.focus();
      const at = this.imagePoint(pane, event);
      if (this.tool && event.button === 0 && !event.shiftKey) {
        this.tool(pane, at);
        return;
      }
      pane.stage.setPointerCapture(event.pointerId);
      const panning = event.button === 1 || event.shiftKey;
      const start = {
        x: event.clientX,
        y: event.clientY,
        pan: { ...this.pan },
        window: { ...pane.window },
        preset: this.presetSelect.value,
      };
      pane.stage.classList.add(panning ? "panning" : "windowing");
      const move = (moveEvent) => {
        const dx = moveEvent.clientX - start.x;
        const dy = moveEvent.clientY - start.y;
        if (panning) {
          this.pan = { x: start.pan.x + dx, y: start.pan.y + dy };
          this.applyTransform();
        } else {
          pane.window = {
            w: Math.min(4, Math.max(0.05, start.window.w * Math.exp(dx / 200))),
            c: Math.min(1, Math.max(-1, start.window.c + dy / 300)),
          };
          pane.applyWindow();
          this.presetSelect.value = "custom";
        }
      };
      const end = (endEvent) => {
        const still = Math.hypot(endEvent.clientX - start.x, endEvent.clientY - start.y) < 3;
        if (still && !panning) {
          // a click, not a drag: the window stays, the click may pick an endplate
          pane.window = start.window;
          pane.applyWindow();
          this.presetSelect.value = start.preset;
          this.onImageClick(pane, at);
        } else {
          if (!panning) this.show(pane);
          this.saveSettings();
        }
        pane.stage.removeEventListener("pointermove", move);
        pane.stage.removeEventListener("pointerup", end);
        pane.stage.removeEventListener("pointercancel", end);
        pane.stage.classList.remove("panning", "windowing");
      };
      pane.stage.addEventListener("pointermove", move);
      pane.stage.addEventListener("pointerup", end);
      pane.stage.addEventListener("pointercancel", end);
    });
  }
}
