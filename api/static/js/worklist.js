// The worklist: studies awaiting my grading and my graded studies (GET /studies?graded_by_me=...).

import { get } from "./api.js";

const PAGE = 50;

function seriesSummary(study) {
  const byId = new Map(study.series.map((s) => [s.id, s]));
  const parts = [];
  if (byId.get(study.grading_series.t1)) parts.push("T1");
  if (byId.get(study.grading_series.t2)) parts.push("T2");
  if (study.series.some((s) => s.weighting === "STIR" && s.plane === "sagittal")) parts.push("STIR");
  if (!study.series.length) return "no images (read in the hospital viewer)";
  return parts.length ? parts.join(" + ") : "no gradable sagittal series";
}

function studyRow(study) {
  const tr = document.createElement("tr");
  tr.dataset.studyId = study.id;
  const field = study.field_strength_t === null ? "—" : `${study.field_strength_t} T`;
  for (const text of [study.patient.pseudonym, study.study_date ?? "—", field, seriesSummary(study)]) {
    const td = document.createElement("td");
    td.textContent = text;
    tr.append(td);
  }
  const td = document.createElement("td");
  const link = document.createElement("a");
  link.href = `#/study/${encodeURIComponent(study.id)}`;
  link.textContent = "Open";
  link.className = "open";
  link.setAttribute("aria-label", `Open study of ${study.patient.pseudonym}${study.study_date ? ` from ${study.study_date}` : ""}`);
  td.append(link);
  tr.append(td);
  return tr;
}

class StudyList {
  constructor(root, key, graded) {
    this.tbody = root.querySelector(`#${key}-table tbody`);
    this.count = root.querySelector(`#${key}-count`);
    this.more = root.querySelector(`#${key}-more`);
    this.graded = graded;
    this.cursor = null;
    this.shown = 0;
    this.more.addEventListener("click", () => this.load(false));
  }

  async load(fresh = true) {
    if (fresh) {
      this.cursor = null;
      this.shown = 0;
      this.tbody.replaceChildren();
    }
    const params = new URLSearchParams({ graded_by_me: String(this.graded), limit: String(PAGE) });
    if (this.cursor) params.set("cursor", this.cursor);
    const page = (await get(`/studies?${params}`)).body;
    for (const study of page.items) this.tbody.append(studyRow(study));
    this.shown += page.items.length;
    this.cursor = page.next_cursor;
    this.more.hidden = !this.cursor;
    this.count.textContent = `(${this.shown}${this.cursor ? "+" : ""})`;
    if (!this.shown) {
      const tr = document.createElement("tr");
      const td = document.createElement("td");
      td.colSpan = 5;
      td.className = "empty";
      td.textContent = this.graded ? "You have not graded any study yet." : "Nothing awaits your grading.";
      tr.append(td);
      this.tbody.append(tr);
    }
  }
}

export class Worklist {
  constructor(root) {
    this.awaiting = new StudyList(root, "awaiting", false);
    this.graded = new StudyList(root, "graded", true);
  }

  async load() {
    await Promise.all([this.awaiting.load(), this.graded.load()]);
  }
}
