// An SVG layer over each image pane: orientation markers, a scale bar, the linked crosshair, level
// labels, endplate highlights and measurements. Everything is drawn in stage (CSS pixel)
// coordinates, mapped from display pixels of the slice through the viewer's zoom and pan.

import { directionLetter, spacing } from "./geometry.js";

const SVG = "http://www.w3.org/2000/svg";
const SCALE_LENGTHS_MM = [5, 10, 20, 50, 100];

export function svg(tag, attributes = {}, text) {
  const element = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, String(value));
  if (text !== undefined) element.textContent = text;
  return element;
}

export class Overlay {
  constructor(pane) {
    this.pane = pane;
    this.root = svg("svg", { class: "overlay", "aria-hidden": "true" });
    this.layers = {};
    for (const name of ["frame", "levels", "measure", "cursor"]) {
      this.layers[name] = svg("g", { class: `layer-${name}` });
      this.root.append(this.layers[name]);
    }
    pane.stage.append(this.root);
  }

  clear(name) {
    this.layers[name].replaceChildren();
  }

  // Orientation letters on the four edges and a scale bar of a round length in mm.
  drawFrame(geometry, index, stagePoint, zoom) {
    this.clear("frame");
    const { width: w, height: h } = this.pane.stage.getBoundingClientRect();
    this.root.setAttribute("viewBox", `0 0 ${w} ${h}`);
    if (!geometry) return;
    const slice = geometry.slices[index];
    const minus = (v) => v.map((c) => -c);
    const letters = [
      [directionLetter(minus(slice.x_step)), 6, h / 2, "start", "marker-left"],
      [directionLetter(slice.x_step), w - 6, h / 2, "end", "marker-right"],
      [directionLetter(minus(slice.y_step)), w / 2, 16, "middle", "marker-top"],
      [directionLetter(slice.y_step), w / 2, h - 8, "middle", "marker-bottom"],
    ];
    for (const [letter, x, y, anchor, name] of letters) {
      this.layers.frame.append(svg("text", { x, y, "text-anchor": anchor, class: `marker ${name}` }, letter));
    }
    const perMm = (stagePoint(1, 0).x - stagePoint(0, 0).x) / spacing(geometry);
    const length = SCALE_LENGTHS_MM.find((mm) => mm * perMm >= 40) ?? SCALE_LENGTHS_MM.at(-1);
    const px = length * perMm;
    const x0 = w - 12 - px;
    const y0 = h - 26;
    this.layers.frame.append(
      svg("path", { d: `M${x0} ${y0 - 4}V${y0}H${x0 + px}V${y0 - 4}`, class: "scale-bar", "data-mm": length, "data-px": px.toFixed(2) }),
      svg("text", { x: x0 + px / 2, y: y0 + 13, "text-anchor": "middle", class: "scale-label" }, `${length} mm`),
    );
    this.root.dataset.zoom = String(zoom);
  }

  // A full-height and full-width crosshair through stage point (sx, sy), for display pixel (x, y).
  drawCrosshair(point, pixel) {
    this.clear("cursor");
    if (!point) return;
    const { width: w, height: h } = this.pane.stage.getBoundingClientRect();
    const group = svg("g", { class: "crosshair", "data-x": pixel.x.toFixed(2), "data-y": pixel.y.toFixed(2) });
    group.append(
      svg("line", { x1: 0, y1: point.y, x2: w, y2: point.y }),
      svg("line", { x1: point.x, y1: 0, x2: point.x, y2: h }),
      svg("circle", { cx: point.x, cy: point.y, r: 3, class: "crosshair-centre" }),
    );
    this.layers.cursor.append(group);
  }
}
