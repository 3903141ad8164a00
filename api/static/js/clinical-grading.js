// A clinical grading of a study on the endplate form: my grading loaded with its version history,
// submitted or amended with a reason (PUT with If-Match), "submit and open next", and a plain
// account of a 412 conflict (amendment-conflict.js).

import { get, request } from "./api.js";
import { AmendmentConflict } from "./amendment-conflict.js";
import { formatTime, newElement } from "./dom.js";
import { priorOf } from "./prior.js";
import { ENDPLATES, describe, sameValue } from "./vocab.js";

// One line of a version: what changed from the previous version (or, for the first, what was graded).
function versionSummary(previous, endplates) {
  if (!previous) {
    const graded = ENDPLATES.filter((e) => endplates[e].type !== "none").map((e) => `${e}: ${describe(endplates[e])}`);
    return `Changes graded: ${graded.join("; ") || "none at any endplate"}`;
  }
  const changed = ENDPLATES.filter((e) => !sameValue(previous[e], endplates[e])).map((e) => `${e}: ${describe(previous[e])} → ${describe(endplates[e])}`);
  return `Changed: ${changed.join("; ") || "nothing"}`;
}

function historyItem(item, previous, current) {
  const li = newElement("li", undefined, { "data-version": String(item.version) });
  const head = newElement("p", undefined, { class: "version-head" });
  head.append(newElement("strong", `Version ${item.version}`), ` by ${item.rater}, ${formatTime(item.at)}`);
  if (current) head.append(" ", newElement("span", "current", { class: "badge" }));
  li.append(head);
  li.append(newElement("p", item.reason ? `Reason: ${item.reason}` : "First grading.", { class: "version-reason" }));
  li.append(newElement("p", versionSummary(previous, item.endplates), { class: "version-summary" }));
  return li;
}

export class ClinicalGrading {
  constructor(form, root) {
    this.form = form;
    this.history = root.querySelector("#history");
    this.historyList = root.querySelector("#history-list");
    this.conflict = new AmendmentConflict(root);
    this.conflict.onKeepMine = (conflict) => this.keepMine(conflict);
    this.conflict.onTakeCurrent = (conflict) => this.takeCurrent(conflict);
    this.study = null;
    this.grading = null;
    this.etag = null;
    this.me = null;
    // Hooks of the image tools: what they add to a submitted grading, and what they show of one.
    this.extraBody = () => ({});
    this.onGradingLoaded = () => {};
    this.onSubmitAndNext = () => {};
    this.prefetchedGradings = () => null;
  }

  async open(study) {
    this.form.attach(this);
    this.study = study;
    const [answer, prior] = await Promise.all([
      this.prefetchedGradings(study.id) ?? get(`/studies/${encodeURIComponent(study.id)}/gradings`),
      priorOf(study.id, { fresh: true }),
    ]);
    if (this.study !== study) return;
    await this.form.record.open({ hasPrior: Boolean(prior.body.prior_graded_study) });
    this.reset();
    this.showMode();
    // the first row has focus as the study opens: grading starts with the first key
    this.form.focusRow(ENDPLATES[0]);
    if (this.study !== study) return;
    // an admin is given everyone's gradings: the form holds only the signed-in user's own
    const mine = answer.body.items.find((g) => g.rater === this.me?.name);
    if (mine) await this.loadGrading(mine.id);
  }

  // The form goes to a reliability read: nothing of this study stays on show.
  release() {
    this.study = null;
    this.clear();
    this.onGradingLoaded(null);
  }

  // No grading, no conflict and no history on show.
  clear() {
    this.setGrading(null, null);
    this.conflict.hide();
    this.history.hidden = true;
    this.historyList.replaceChildren();
  }

  reset() {
    this.clear();
    this.form.reset();
  }

  // The saved grading the form amends (and compares its rows with).
  setGrading(grading, etag) {
    this.grading = grading;
    this.etag = etag;
    this.form.saved = grading?.endplates ?? null;
  }

  showMode() {
    this.onGradingLoaded(this.grading);
    if (!this.grading) {
      this.form.showMode({
        mode: "new",
        status: "Not graded by you yet. Grade all 11 endplates and submit.",
        submitLabel: "Submit grading",
        nextLabel: "Submit and open next",
      });
      return;
    }
    const { version } = this.grading;
    this.form.showMode({
      mode: "amend",
      status: `Your grading, version ${version}. Change rows, give a reason and amend.`,
      submitLabel: `Amend grading (version ${version} → ${version + 1})`,
      nextLabel: "Amend and open next",
      amending: true,
    });
  }

  async loadGrading(gradingId) {
    const answer = await get(`/gradings/${encodeURIComponent(gradingId)}`);
    this.setGrading(answer.body, answer.etag);
    this.form.record.fillRecord(this.grading);
    this.form.fill(this.grading.endplates);
    this.showMode();
    await this.loadHistory();
  }

  async loadHistory() {
    if (!this.grading) return [];
    const answer = await get(`/gradings/${encodeURIComponent(this.grading.id)}/history`);
    const items = answer.body.items;
    this.historyList.replaceChildren(...items.map((item, i) => historyItem(item, items[i - 1]?.endplates, i === items.length - 1)));
    this.history.hidden = items.length === 0;
    return items;
  }

  // Submits (create or amend); with `next`, then opens the next study awaiting my grading.
  async submit({ next = false } = {}) {
    if (!this.study) return;
    // when the next study opens at once, this one's history is not worth waiting for
    const save = () => (this.grading ? this.amend({ history: !next }) : this.create({ history: !next }));
    const saved = await this.form.submitWith(save, (error) => this.handleFailure(error));
    if (saved && next) this.onSubmitAndNext(this.study);
  }

  async create({ history = true } = {}) {
    const answer = await request("POST", `/studies/${encodeURIComponent(this.study.id)}/gradings`, {
      json: { endplates: this.form.values(), ...this.form.record.body(), ...this.extraBody() },
    });
    this.showSaved(answer);
    this.form.status.textContent = `Saved: your grading, version ${this.grading.version}.`;
    if (history) await this.loadHistory();
  }

  async amend({ history = true } = {}) {
    const previous = this.grading.version;
    const answer = await request("PUT", `/gradings/${encodeURIComponent(this.grading.id)}`, {
      json: { endplates: this.form.values(), ...this.form.record.body(), reason: this.form.reason.value, ...this.extraBody() },
      headers: { "If-Match": this.etag },
    });
    this.form.reason.value = "";
    this.showSaved(answer);
    this.form.status.textContent = `Amended: version ${previous} → ${this.grading.version}.`;
    if (history) await this.loadHistory();
  }

  showSaved(answer) {
    this.setGrading(answer.body, answer.etag);
    this.form.fill(this.grading.endplates);
    this.showMode();
  }

  async handleFailure(error) {
    if (error.status === 412) {
      await this.showConflict();
    } else if (error.status === 409 && error.body.existing_id) {
      const mine = this.form.values();
      await this.loadGrading(error.body.existing_id);
      this.form.fill(mine);
      this.form.message.textContent =
        "You had already graded this study (perhaps in another window). That grading is loaded; your entries are kept: give a reason to amend it.";
    } else {
      this.form.showFailure(error);
    }
  }

  // 412: someone amended the grading after it was loaded here.
  async showConflict() {
    const mine = this.form.values();
    const amendedVersion = this.grading.version;
    const answer = await get(`/gradings/${encodeURIComponent(this.grading.id)}`);
    const items = await this.loadHistory();
    this.form.message.textContent = "Not saved: someone else changed this grading. See below.";
    this.conflict.show({
      mine,
      amendedVersion,
      current: answer.body,
      etag: answer.etag,
      reason: this.form.reason.value,
      latest: items[items.length - 1],
    });
  }

  keepMine({ mine, current, etag, reason }) {
    this.setGrading(current, etag);
    this.form.fill(mine);
    this.form.reason.value = reason;
    this.showMode();
    this.conflict.hide();
    this.form.status.textContent = `Your values are kept. Submitting will amend the current version ${current.version}.`;
    this.form.submitButton.focus();
  }

  takeCurrent({ current, etag }) {
    this.setGrading(current, etag);
    this.form.reason.value = "";
    this.form.fill(current.endplates);
    this.showMode();
    this.conflict.hide();
    this.form.status.textContent = `Loaded the current version ${current.version}; your changes were discarded.`;
  }
}
