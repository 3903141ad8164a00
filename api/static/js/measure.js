// The height-fraction tool for the Nordic size: on the image, click the endplate with the change,
// the opposite endplate of the same body, then the deepest extent of the change. The extension
// beyond the endplate is the depth along the height axis as a percentage of the body height; it
// fills the focused row's Ext. % and size and is kept as a measurement with the grading version.

import { add } from "./geometry.js";
import { svg } from "./overlay.js";
import { sizeForExtension } from "./vocab.js";

const STEPS = ["the endplate with the change", "the opposite endplate of the same body", "the deepest extent of the change"];
const dot = (a, b) => a[0] * b[0] + a[1] * b[1] + a[2] * b[2];

// The same computation as grading.annotations.HeightFraction (the service recomputes it).
export function heightFraction(endplatePoint, oppositePoint, depthPoint) {
  const axis = add(oppositePoint, endplatePoint, -1);
  const height = Math.sqrt(dot(axis, axis));
  const depth = Math.max(0, dot(add(depthPoint, endplatePoint, -1), axis) / height);
  return { height, depth, pct: Math.round(Math.min(100, (100 * depth) / height) * 10) / 10 };
}

export class MeasureTool {
  constructor(viewer, form, button, status) {
    this.viewer = viewer;
    this.form = form;
    this.button = button;
    this.status = status;
    this.measurements = [];
    this.points = null;
    this.endplate = null;
    this.onStart = () => {};
    button.addEventListener("click", () => (this.points ? this.stop() : this.start()));
  }

  set(measurements) {
    this.measurements = (measurements ?? []).map((m) => ({
      endplate: m.endplate,
      endplate_point: m.endplate_point,
      opposite_point: m.opposite_point,
      depth_point: m.depth_point,
    }));
    this.stop();
    this.viewer.drawOverlays();
  }

  start() {
    const endplate = this.form.activeEndplate;
    const type = endplate ? this.form.rows.get(endplate).type.value : "";
    if (!endplate || !type || type === "none") {
      this.status.textContent = endplate
        ? `Height %: give ${endplate} a Modic type first, then measure its size.`
        : "Height %: focus the row of the endplate to measure and give it a Modic type first.";
      this.form.focusRow(endplate ?? "L1_sup");
      return;
    }
    this.onStart();
    this.endplate = endplate;
    this.points = [];
    this.button.setAttribute("aria-pressed", "true");
    this.viewer.tool = (pane, at) => this.place(pane, at);
    this.prompt();
  }

  stop() {
    if (!this.points) return;
    this.points = null;
    this.button.setAttribute("aria-pressed", "false");
    if (this.viewer.tool) this.viewer.tool = null;
    this.status.textContent = "";
    this.viewer.drawOverlays();
  }

  prompt() {
    this.status.textContent = `Height % of ${this.endplate}: click ${STEPS[this.points.length]} (Esc stops).`;
  }

  place(pane, at) {
    const point = pane.patientPoint(at.x, at.y);
    if (!point) {
      this.status.textContent = "This series has no position information: nothing can be measured on it.";
      return;
    }
    this.points.push(point);
    if (this.points.length < STEPS.length) {
      this.prompt();
      this.viewer.drawOverlays();
      return;
    }
    const [endplatePoint, oppositePoint, depthPoint] = this.points;
    const { height, pct } = heightFraction(endplatePoint, oppositePoint, depthPoint);
    const endplate = this.endplate;
    this.measurements = this.measurements.filter((m) => m.endplate !== endplate);
    this.measurements.push({ endplate, endplate_point: endplatePoint, opposite_point: oppositePoint, depth_point: depthPoint });
    this.stop();
    this.form.setMeasured(endplate, pct);
    this.status.textContent = `${endplate}: ${pct} % of the body height (${height.toFixed(1)} mm), size ${sizeForExtension(pct)}.`;
  }

  draw() {
    const drawn = [...this.measurements];
    if (this.points?.length) drawn.push({ endplate: this.endplate, partial: this.points });
    for (const pane of Object.values(this.viewer.panes)) {
      const layer = pane.overlay.layers.measure;
      layer.replaceChildren();
      if (!pane.geometry || pane.img.hidden) continue;
      const at = (point) => {
        const pixel = pane.pixelOf(point);
        return this.viewer.stagePoint(pane, pixel.x, pixel.y);
      };
      for (const m of drawn) {
        const points = (m.partial ?? [m.endplate_point, m.opposite_point, m.depth_point]).map(at);
        const group = svg("g", { class: "measurement", "data-endplate": m.endplate });
        if (points.length >= 2) {
          group.append(svg("line", { x1: points[0].x, y1: points[0].y, x2: points[1].x, y2: points[1].y, class: "height-line" }));
        }
        for (const p of points) group.append(svg("circle", { cx: p.x, cy: p.y, r: 3 }));
        if (!m.partial) {
          const { pct } = heightFraction(m.endplate_point, m.opposite_point, m.depth_point);
          group.append(svg("text", { x: points[2].x + 8, y: points[2].y + 4, class: "measure-label" }, `${m.endplate} ${pct} %`));
        }
        layer.append(group);
      }
    }
  }
}
