// The patient's prior graded study beside the current one: one sagittal image (T2, else T1) to
// scroll and the prior grading, read-only. Nothing of it can be changed from here.

import { fetchImageUrl, get } from "./api.js";
import { ENDPLATES, describe, sameValue } from "./vocab.js";

// GET /studies/{id}/prior: the patient's earlier graded studies I may see (items) and the one
// "development over time" is graded against (prior_graded_study). The form asks when a study opens
// (fresh); the prior pane, opening later for the same study, reuses that answer.
let lastPrior = { studyId: null, answer: null };

export function priorOf(studyId, { fresh = false } = {}) {
  if (fresh || lastPrior.studyId !== studyId) {
    const answer = get(`/studies/${encodeURIComponent(studyId)}/prior`);
    lastPrior = { studyId, answer };
    answer.catch(() => {
      if (lastPrior.answer === answer) lastPrior = { studyId: null, answer: null };
    });
  }
  return lastPrior.answer;
}

export class PriorStudy {
  constructor(root, button) {
    this.root = root;
    this.button = button;
    this.pane = root.querySelector("#pane-prior");
    this.img = this.pane.querySelector("img.slice");
    this.pos = this.pane.querySelector(".slice-pos");
    this.caption = this.pane.querySelector(".pane-series");
    this.stage = this.pane.querySelector(".stage");
    this.tbody = root.querySelector("#prior-grading tbody");
    this.head = root.querySelector("#prior-grading-head");
    this.prior = null;
    // Counts the studies opened and closed: an answer that arrives for an earlier one is dropped.
    this.openSerial = 0;
    button.addEventListener("click", () => this.toggle());
    this.stage.addEventListener("keydown", (event) => {
      const steps = { ArrowUp: -1, ArrowLeft: -1, ArrowDown: 1, ArrowRight: 1 };
      if (event.key in steps && this.series) {
        event.preventDefault();
        this.show(Math.min(this.series.slices - 1, Math.max(0, this.index + steps[event.key])));
      }
    });
  }

  // Offers the newest prior graded study of the patient, if any.
  async load(study) {
    this.close();
    const openSerial = this.openSerial;
    let items = [];
    try {
      items = (await priorOf(study.id)).body.items;
    } catch {
      items = [];
    }
    if (openSerial !== this.openSerial || !items.length) return;
    this.prior = items[0];
    this.button.hidden = false;
    this.button.textContent = `Show prior study (${this.prior.study_date ?? "earlier"})`;
  }

  close() {
    this.openSerial += 1;
    this.prior = null;
    this.series = null;
    this.button.hidden = true;
    this.button.setAttribute("aria-pressed", "false");
    this.root.hidden = true;
    if (this.img.src) URL.revokeObjectURL(this.img.src);
    this.img.removeAttribute("src");
    this.img.hidden = true;
  }

  async toggle() {
    const open = this.button.getAttribute("aria-pressed") !== "true";
    this.button.setAttribute("aria-pressed", String(open));
    this.root.hidden = !open;
    if (!open || this.series !== null) return;
    const prior = this.prior;
    const id = prior.grading_series.t2 ?? prior.grading_series.t1;
    this.series = prior.series.find((s) => s.id === id) ?? null;
    this.root.querySelector("#prior-title").textContent = `Prior study of ${prior.study_date ?? "an earlier date"} (read-only)`;
    this.caption.textContent = this.series
      ? `${this.series.weighting} · ${this.series.description}`
      : "no sagittal images are stored for it";
    this.stage.hidden = !this.series;
    if (this.series) this.show(Math.floor((this.series.slices - 1) / 2));
    const gradings = (await get(`/studies/${encodeURIComponent(prior.id)}/gradings`)).body.items;
    this.fillGrading(gradings[0] ?? null);
  }

  fillGrading(grading) {
    this.tbody.replaceChildren();
    this.head.textContent = grading ? `Prior grading (${grading.rater}, version ${grading.version})` : "Prior grading";
    for (const endplate of ENDPLATES) {
      const value = grading?.endplates[endplate];
      const tr = document.createElement("tr");
      if (value && !sameValue(value, { type: "none" })) tr.className = "differs";
      const th = document.createElement("th");
      th.scope = "row";
      th.textContent = endplate;
      const td = document.createElement("td");
      td.textContent = describe(value);
      tr.append(th, td);
      this.tbody.append(tr);
    }
  }

  async show(index) {
    const openSerial = this.openSerial;
    this.index = index;
    this.pos.textContent = `${index + 1} / ${this.series.slices}`;
    const { url } = await fetchImageUrl(`/series/${encodeURIComponent(this.series.id)}/slices/${index}.png`);
    if (openSerial !== this.openSerial || index !== this.index) {
      URL.revokeObjectURL(url);
      return;
    }
    if (this.img.src) URL.revokeObjectURL(this.img.src);
    this.img.src = url;
    this.img.hidden = false;
  }
}
