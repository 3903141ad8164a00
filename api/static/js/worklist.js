// The worklist: studies awaiting my grading and my graded studies (GET /studies?graded_by_me=...).

import { get } from "./api.js";
import { newElement } from "./dom.js";

const PAGE = 50;
// The columns of both study lists, in the order of a row's cells (then the "Open" link).
const STUDY_COLUMNS = ["Patient (pseudonym)", "Study date", "Field", "Series"];

function studyHeader() {
  const tr = document.createElement("tr");
  for (const label of STUDY_COLUMNS) tr.append(newElement("th", label, { scope: "col" }));
  const open = newElement("th", undefined, { scope: "col" });
  open.append(newElement("span", "Open", { class: "visually-hidden" }));
  tr.append(open);
  return tr;
}

function seriesSummary(study) {
  const byId = new Map(study.series.map((s) => [s.id, s]));
  const parts = [];
  if (byId.get(study.grading_series.t1)) parts.push("T1");
  if (byId.get(study.grading_series.t2)) parts.push("T2");
  if (byId.get(study.grading_series.stir)) parts.push("STIR");
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
    root.querySelector(`#${key}-table thead`).replaceChildren(studyHeader());
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
      td.colSpan = STUDY_COLUMNS.length + 1;
      td.className = "empty";
      td.textContent = this.graded ? "You have not graded any study yet." : "Nothing awaits your grading.";
      tr.append(td);
      this.tbody.append(tr);
    }
  }
}

function readRow(cells, link) {
  const tr = document.createElement("tr");
  for (const text of cells) {
    const td = document.createElement("td");
    td.textContent = text;
    tr.append(td);
  }
  const td = document.createElement("td");
  if (link) td.append(link);
  tr.append(td);
  return tr;
}

// My reliability-study reads (GET /reliability-studies, then each study's worklist): blinded case
// labels in my own assigned order, nothing else about the case.
class ReadsList {
  constructor(root) {
    this.section = root.querySelector("#reads-section");
    this.tbody = root.querySelector("#reads-table tbody");
    this.count = root.querySelector("#reads-count");
  }

  async load(me) {
    this.tbody.replaceChildren();
    this.section.hidden = true;
    if (me.role !== "radiologist") return;
    const studies = (await get("/reliability-studies")).body.items;
    const worklists = await Promise.all(
      studies.map((s) => get(`/reliability-studies/${encodeURIComponent(s.id)}/worklist`).then((r) => r.body)),
    );
    let toDo = 0;
    for (const worklist of worklists) {
      if (worklist.status === "washout") {
        const opens = new Date(worklist.opens_at).toLocaleString();
        this.tbody.append(readRow(["–", "–", worklist.name, String(worklist.read), `read ${worklist.read} opens ${opens} (washout)`]));
        continue;
      }
      if (worklist.status !== "open") {
        this.tbody.append(readRow(["–", "–", worklist.name, "–", "all reads done"]));
        continue;
      }
      const items = [...worklist.items].sort((a, b) => a.position - b.position);
      for (const item of items) {
        const link = document.createElement("a");
        link.href = `#/read/${encodeURIComponent(worklist.study_id)}/${encodeURIComponent(item.case)}`;
        link.textContent = item.done ? "View" : "Open";
        link.className = "open";
        link.setAttribute("aria-label", `${item.done ? "View" : "Open"} case ${item.case} of ${worklist.name}`);
        if (!item.done) toDo += 1;
        this.tbody.append(readRow([String(item.position), item.case, worklist.name, String(worklist.read), item.done ? "done" : "to do"], link));
      }
    }
    this.count.textContent = `(${toDo} to do)`;
    this.section.hidden = studies.length === 0;
  }

  // The next case of my current read in that study that is not done yet, if any.
  static async nextCase(studyId) {
    const worklist = (await get(`/reliability-studies/${encodeURIComponent(studyId)}/worklist`)).body;
    if (worklist.status !== "open") return null;
    return [...worklist.items].sort((a, b) => a.position - b.position).find((i) => !i.done)?.case ?? null;
  }
}

export const nextCase = ReadsList.nextCase;

export class Worklist {
  constructor(root) {
    this.reads = new ReadsList(root);
    this.awaiting = new StudyList(root, "awaiting", false);
    this.graded = new StudyList(root, "graded", true);
  }

  async load(me) {
    await Promise.all([this.reads.load(me), this.awaiting.load(), this.graded.load()]);
  }

  // Empties every list, so that nothing of them stays in the page (e.g. behind a blinded read).
  clear() {
    for (const list of [this.reads, this.awaiting, this.graded]) {
      list.tbody.replaceChildren();
      list.count.textContent = "";
    }
  }
}
