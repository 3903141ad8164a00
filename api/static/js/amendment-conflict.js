// The amendment conflict (a 412 on an amendment): someone saved a newer version of the grading
// while it was being amended here. Shows the two versions side by side and offers the choice: keep
// my values and amend the current version, or discard mine and load the current version.

import { newElement, formatTime } from "./dom.js";
import { ENDPLATES, describe, sameValue } from "./vocab.js";

export class AmendmentConflict {
  constructor(root) {
    this.box = root.querySelector("#conflict");
    this.text = root.querySelector("#conflict-text");
    this.currentHead = root.querySelector("#conflict-current-head");
    this.comparison = root.querySelector("#conflict-table tbody");
    this.keepMineButton = root.querySelector("#conflict-keep-mine");
    // The conflict on show: my values, the current grading, its ETag and my reason.
    this.conflict = null;
    this.onKeepMine = () => {};
    this.onTakeCurrent = () => {};
    this.keepMineButton.addEventListener("click", () => this.choose(this.onKeepMine));
    root.querySelector("#conflict-take-current").addEventListener("click", () => this.choose(this.onTakeCurrent));
  }

  // `latest` is the history's last version (who saved the current one, when and why).
  show({ mine, amendedVersion, current, etag, reason, latest }) {
    this.conflict = { mine, current, etag, reason };
    const by = latest ? `${latest.rater} saved version ${current.version} at ${formatTime(latest.at)}` : `version ${current.version} was saved`;
    const why = latest?.reason ? ` (reason: “${latest.reason}”)` : "";
    this.text.textContent =
      `Someone else changed this grading while you were editing it: you were amending version ${amendedVersion}, ` +
      `but ${by}${why}. Your amendment was NOT saved. Compare the two versions below, then choose.`;
    this.currentHead.textContent = `Current (version ${current.version})`;
    this.comparison.replaceChildren(...ENDPLATES.map((endplate) => this.comparisonRow(endplate)));
    this.box.hidden = false;
    this.box.scrollIntoView({ block: "nearest" });
    this.keepMineButton.focus();
  }

  comparisonRow(endplate) {
    const { mine, current } = this.conflict;
    const differs = !sameValue(mine[endplate], current.endplates[endplate]);
    const tr = newElement("tr", undefined, differs ? { class: "differs" } : {});
    tr.append(newElement("th", endplate, { scope: "row" }), newElement("td", describe(mine[endplate])), newElement("td", describe(current.endplates[endplate])));
    return tr;
  }

  choose(handler) {
    if (!this.conflict) return;
    handler(this.conflict);
  }

  hide() {
    this.box.hidden = true;
  }
}
