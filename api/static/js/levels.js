// Level labels: the radiologist clicks the centres of the L1 to S1 bodies once per study; the
// labels are kept with the grading (patient coordinates), drawn on both panes, and tie the form to
// the image: a focused row highlights its endplate, a click on an endplate focuses its row.

import { ENDPLATES } from "./vocab.js";
import { add, distance } from "./geometry.js";
import { svg } from "./overlay.js";

export const LEVELS = ["L1", "L2", "L3", "L4", "L5", "S1"];

// An endplate lies about this fraction of the way from its body's centre to the next body's centre
// (body about 27 mm, disc about 10 mm: half a body over body plus disc).
const ENDPLATE_FRACTION = 0.36;
// Half the length of an endplate mark, and how near (mm) a click must be to pick an endplate.
const ENDPLATE_HALF_MM = 18;
const PICK_MM = 8;

// Where an endplate is, from the labels: its point and the direction of the spine axis there.
export function endplateAt(levels, endplate) {
  const [vertebra, side] = endplate.split("_");
  const i = LEVELS.indexOf(vertebra);
  const centre = levels[vertebra];
  if (!centre) return null;
  const neighbour = levels[LEVELS[side === "sup" ? i - 1 : i + 1]];
  const across = levels[LEVELS[side === "sup" ? i + 1 : i - 1]];
  let toward = null;
  if (neighbour) toward = add(neighbour, centre, -1);
  else if (across) toward = add(centre, across, -1); // L1 above and S1 below: the spacing of the other side
  if (!toward) return null;
  return { point: add(centre, toward, ENDPLATE_FRACTION), axis: toward };
}

export class LevelTool {
  constructor(viewer, form, button, status) {
    this.viewer = viewer;
    this.form = form;
    this.button = button;
    this.status = status;
    this.levels = {};
    this.focused = null;
    this.placing = -1;
    this.onStart = () => {};
    button.addEventListener("click", () => (this.placing >= 0 ? this.stop() : this.start()));
  }

  set(levels) {
    this.levels = { ...(levels ?? {}) };
    this.stop();
    this.viewer.drawOverlays();
  }

  start() {
    this.onStart();
    this.placing = 0;
    this.button.setAttribute("aria-pressed", "true");
    this.viewer.tool = (pane, at) => this.place(pane, at);
    this.prompt();
  }

  stop() {
    if (this.placing < 0) return;
    this.placing = -1;
    this.button.setAttribute("aria-pressed", "false");
    if (this.viewer.tool) this.viewer.tool = null;
    this.status.textContent = "";
  }

  prompt() {
    this.status.textContent = `Label levels: click the centre of the ${LEVELS[this.placing]} body (Esc stops).`;
  }

  place(pane, at) {
    const point = pane.patientPoint(at.x, at.y);
    if (!point) {
      this.status.textContent = "This series has no position information: levels cannot be placed on it.";
      return;
    }
    this.levels[LEVELS[this.placing]] = point;
    this.placing += 1;
    if (this.placing >= LEVELS.length) {
      this.stop();
      this.status.textContent = "Levels L1 to S1 placed; they are saved with your grading.";
    } else {
      this.prompt();
    }
    this.viewer.drawOverlays();
  }

  highlight(endplate) {
    this.focused = endplate;
    this.viewer.drawOverlays();
  }

  // A click on the image (no tool active): the nearest endplate within reach focuses its row.
  pick(pane, at) {
    const point = pane.patientPoint(at.x, at.y);
    if (!point) return;
    let best = null;
    for (const endplate of ENDPLATES) {
      const where = endplateAt(this.levels, endplate);
      const d = where ? distance(where.point, point) : Infinity;
      if (d < PICK_MM && (!best || d < best.d)) best = { endplate, d };
    }
    if (best) this.form.focusRow(best.endplate);
  }

  draw() {
    for (const pane of Object.values(this.viewer.panes)) {
      const layer = pane.overlay.layers.levels;
      layer.replaceChildren();
      if (!pane.geometry || pane.img.hidden) continue;
      const at = (point) => {
        const pixel = pane.pixelOf(point);
        return { ...this.viewer.stagePoint(pane, pixel.x, pixel.y), pixel };
      };
      for (const endplate of ENDPLATES) {
        const where = endplateAt(this.levels, endplate);
        if (!where) continue;
        const length = Math.hypot(...where.axis);
        const c = at(where.point);
        const ahead = at(add(where.point, where.axis, 1 / length));
        // the endplate runs across the spine axis, in the image plane
        const ax = ahead.x - c.x;
        const ay = ahead.y - c.y;
        const k = (ENDPLATE_HALF_MM * Math.hypot(ax, ay)) / Math.hypot(ax, ay) ** 2 || 0;
        const focused = endplate === this.focused;
        layer.append(
          svg("line", {
            x1: c.x - ay * k,
            y1: c.y + ax * k,
            x2: c.x + ay * k,
            y2: c.y - ax * k,
            class: focused ? "endplate endplate-focus" : "endplate",
            "data-endplate": endplate,
            "data-x": c.pixel.x.toFixed(2),
            "data-y": c.pixel.y.toFixed(2),
          }),
        );
      }
      for (const level of LEVELS) {
        if (!this.levels[level]) continue;
        const c = at(this.levels[level]);
        layer.append(
          svg("circle", { cx: c.x, cy: c.y, r: 3, class: "level-dot" }),
          svg("text", { x: c.x + 8, y: c.y + 4, class: "level-label", "data-level": level }, level),
        );
      }
    }
  }
}
