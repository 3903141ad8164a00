// A blinded reliability-study read on the endplate form: the case's protocol, one final submission
// with the series viewed, no history and no amendment.

import { request } from "./api.js";

export class ReliabilityRead {
  constructor(form) {
    this.form = form;
    // The read on the form: its study, case label, read number, and its endplates once submitted.
    this.read = null;
    this.seriesViewed = () => null;
    this.onReadSaved = () => {};
  }

  async open(studyId, caseView) {
    this.form.attach(this);
    this.read = { studyId, case: caseView.case, number: caseView.read, endplates: caseView.endplates };
    await this.form.record.open({ protocol: caseView.protocol });
    this.form.reset();
    if (caseView.endplates) this.form.fill(caseView.endplates);
    this.showMode();
  }

  release() {
    this.read = null;
  }

  isSubmitted() {
    return Boolean(this.read?.endplates);
  }

  showMode() {
    const { case: label, number } = this.read;
    const submitted = this.isSubmitted();
    this.form.showMode({
      mode: submitted ? "read-done" : "read",
      status: submitted
        ? `Read ${number} of case ${label} is submitted. Reliability reads are final.`
        : `Blinded read ${number}, case ${label}. Grade all 11 endplates and submit; reads are final.`,
      submitLabel: "Submit read",
      locked: submitted,
    });
  }

  // Reads are final: a submitted read is not sent again.
  async submit() {
    if (!this.read || this.isSubmitted()) return;
    await this.form.submitWith(
      () => this.save(this.read),
      (error) => this.form.showFailure(error),
    );
  }

  async save(read) {
    const path = `/reliability-studies/${encodeURIComponent(read.studyId)}/worklist/${encodeURIComponent(read.case)}/grading`;
    const answer = await request("POST", path, { json: { endplates: this.form.values(), series_viewed: this.seriesViewed() } });
    read.endplates = answer.body.endplates;
    if (this.read !== read) return; // the form has gone to another read or study meanwhile
    this.form.fill(answer.body.endplates);
    this.showMode();
    await this.onReadSaved(read);
  }
}
